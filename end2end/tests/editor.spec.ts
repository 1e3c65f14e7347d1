// The flow editor and the topology: writing a flow with completion, live
// problems, saving, the topology following the draft, revisions.
import { test, expect, Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { startServer, postFlow, Server, authFetch, logIn } from './server';

// One fresh server for this file; the tests build on each other's data.
test.describe.configure({ mode: 'serial' });

const artifacts = path.resolve(__dirname, '..', 'artifacts');
let server: Server;

test.beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await startServer();
});

// Every page opens logged in, as the admin.
test.beforeEach(async ({ context }) => {
  await logIn(context, server.url);
});

test.afterAll(async () => {
  await server?.stop();
});

async function open(page: Page, url: string) {
  await page.goto(`${server.url}${url}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

const editorOf = (page: Page) => page.getByRole('textbox', { name: 'Flow source (YAML)' });
const completions = (page: Page) => page.getByRole('listbox', { name: 'Completions' });

test('a flow written from scratch with completion is saved', async ({ page }) => {
  await open(page, '/flows/new');
  const editor = editorOf(page);
  await editor.focus();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await expect(editor).toHaveValue('');

  // Enter keeps the indentation and deepens it after `key:`.
  await page.keyboard.type('id: from_scratch');
  await page.keyboard.press('Enter');
  await page.keyboard.type('namespace: e2e');
  await page.keyboard.press('Enter');
  await page.keyboard.type('tasks:');
  await page.keyboard.press('Enter');
  await page.keyboard.type('- id: hello');
  await page.keyboard.press('Enter');
  // Completion opens by itself after `type: `, with the task types.
  await page.keyboard.type('type: ');
  await expect(completions(page)).toBeVisible();
  await expect(completions(page).getByRole('option', { name: /databricks\.cluster\.CreateCluster/ })).toBeVisible();
  await page.keyboard.type('log.L');
  await expect(completions(page).getByRole('option').first()).toContainText('log.Log');
  await expect(completions(page).getByRole('option').first()).toContainText('Writes a message');
  await page.keyboard.press('Enter');
  await expect(completions(page)).toHaveCount(0);
  await expect(editor).toHaveValue(/    type: io\.kestra\.plugin\.core\.log\.Log$/);

  // Ctrl+Space: the task's properties, the required ones marked.
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+Space');
  const message = completions(page).getByRole('option', { name: /^message/ });
  await expect(message).toContainText('required');
  await page.keyboard.type('mess');
  await expect(completions(page).getByRole('option')).toHaveCount(1);
  await page.keyboard.press('Enter');
  await page.keyboard.type('Hello from scratch');
  await expect(editor).toHaveValue(
    'id: from_scratch\nnamespace: e2e\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello from scratch',
  );
  await expect(page.getByText('No problems', { exact: true })).toBeVisible();
  // The documentation of the task at the caret.
  await expect(page.getByRole('complementary').getByRole('heading', { name: 'log.Log' })).toBeVisible();
  await expect(page.getByRole('complementary').getByText('The message, or a list of messages')).toBeVisible();

  // The topology under the editor follows the draft.
  await expect(page.locator('.topology-node[data-task-id="hello"]')).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'editor-new-flow.png'), fullPage: true });

  // Ctrl+S stores revision 1 and opens the flow's editor.
  await page.keyboard.press('Control+s');
  await expect(page).toHaveURL(/\/flows\/e2e\/from_scratch\/editor$/);
  await expect(page.locator('.flow-actions').getByText('Revision 1', { exact: true })).toBeVisible();
  const stored = await (await authFetch(`${server.url}/api/v1/flows/e2e/from_scratch`)).json();
  expect(stored.source).toContain('message: Hello from scratch');
});

test('a problem is underlined as you type and goes away when fixed', async ({ page }) => {
  await open(page, '/flows/e2e/from_scratch/editor');
  const editor = editorOf(page);
  await editor.focus();
  await page.keyboard.press('ControlOrMeta+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('levl: INFO');
  const problems = page.getByRole('region', { name: 'Problems' });
  await expect(problems.getByRole('button', { name: /unknown property `levl`.*did you mean `level`/ })).toBeVisible();
  await expect(page.locator('.mark-error[data-line="7"]')).toHaveCount(1);
  await expect(page.getByText('1 error, 0 warnings')).toBeVisible();
  // The message shows on hover over the underlined text.
  const mark = await page.locator('.mark-error[data-line="7"]').boundingBox();
  await page.mouse.move(mark!.x + 4, mark!.y + 10);
  await expect(page.getByRole('tooltip')).toContainText('unknown property `levl`');

  // Save refuses an invalid flow and says why.
  await page.keyboard.press('Control+s');
  await expect(page.getByText(/Not saved: the flow has 1 error; the first, at line 7/)).toBeVisible();

  // The problems panel moves the caret to the problem.
  await editor.press('ControlOrMeta+Home');
  await problems.getByRole('button', { name: /unknown property `levl`/ }).click();
  await expect(page.getByText('Line 7, column 5', { exact: true })).toBeVisible();

  // Fixed: the mark and the problem go away.
  await page.keyboard.press('End');
  for (let i = 0; i < 'levl: INFO'.length; i++) await page.keyboard.press('Shift+ArrowLeft');
  await page.keyboard.type('level: WARN');
  await expect(page.locator('.mark-error')).toHaveCount(0);
  await expect(page.getByText('No problems', { exact: true })).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'editor.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(artifacts, 'editor-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.keyboard.press('Control+s');
  await expect(page.getByText('Saved as revision 2.')).toBeVisible();
  await expect(page.locator('.flow-actions').getByText('Revision 2', { exact: true })).toBeVisible();
});

test('indentation, comments, undo and find work from the keyboard', async ({ page }) => {
  await open(page, '/flows/e2e/from_scratch/editor');
  const editor = editorOf(page);
  const original = await editor.inputValue();
  await editor.focus();
  // Select the task's lines 4 to 7 and indent them, then back.
  await page.evaluate(() => {
    const area = document.querySelector('textarea')!;
    const start = area.value.indexOf('  - id: hello');
    area.setSelectionRange(start, area.value.length);
  });
  await page.keyboard.press('Tab');
  await expect(editor).toHaveValue(/\n    - id: hello\n      type: /);
  await page.keyboard.press('Shift+Tab');
  await expect(editor).toHaveValue(original);
  await page.keyboard.press('Control+/');
  await expect(editor).toHaveValue(/\n  # - id: hello\n  #   type: /);
  await expect(page.getByText(/`tasks` is empty|error/).first()).toBeVisible();
  await page.keyboard.press('Control+z');
  await page.keyboard.press('Control+z');
  await page.keyboard.press('Control+z');
  await expect(editor).toHaveValue(original);
  await page.keyboard.press('Control+Shift+z');
  await expect(editor).toHaveValue(/\n    - id: hello/);
  await page.keyboard.press('Control+z');
  await expect(editor).toHaveValue(original);

  // Ctrl+F starts from the selected text, all of it selected in the box.
  await page.evaluate(() => {
    const area = document.querySelector('textarea')!;
    const at = area.value.indexOf('from_scratch');
    area.setSelectionRange(at, at + 'from_scratch'.length);
  });
  await page.keyboard.press('Control+f');
  const find = page.getByRole('searchbox', { name: 'Find' });
  await expect(find).toBeFocused();
  await expect(find).toHaveValue('from_scratch');
  await expect(page.getByText('1 of 1')).toBeVisible();
  await page.keyboard.type('hello');
  await expect(find).toHaveValue('hello');
  await expect(page.getByText('1 of 2')).toBeVisible();
  await find.press('Enter');
  await expect(page.getByText('2 of 2')).toBeVisible();
  await find.press('Escape');
  await expect(find).toHaveCount(0);
  await expect(editor).toBeFocused();
  // Esc then Tab leaves the editor.
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  await expect(editor).not.toBeFocused();
  await expect(editor).toHaveValue(original);
});

test('the topology follows the draft and a node leads to its line', async ({ page }) => {
  await open(page, '/flows/e2e/from_scratch/editor');
  await editorOf(page).focus();
  await page.keyboard.press('ControlOrMeta+End');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.type('- id: second');
  await page.keyboard.press('Enter');
  await page.keyboard.type('type: io.kestra.plugin.core.log.Log');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  await page.keyboard.type('message: "after {{ outputs.hello');
  await expect(completions(page).getByRole('option', { name: /^hello/ })).toBeVisible();
  await page.keyboard.press('Escape');
  // After `|` the filters open by themselves, with their signatures.
  await page.keyboard.type(' | ');
  await expect(completions(page).getByRole('option', { name: /^dateAdd/ })).toContainText('dateAdd(amount, unit');
  await page.keyboard.type('upp');
  await expect(completions(page).getByRole('option').first()).toContainText('upper');
  await page.keyboard.press('Enter');
  // The docs beside the editor show the filter under the caret.
  await expect(page.getByRole('region', { name: 'Expression documentation' })).toContainText('The text in upper case.');
  await page.keyboard.type(' }}"');
  await expect(editorOf(page)).toHaveValue(/message: "after \{\{ outputs\.hello \| upper \}\}"$/);
  await expect(page.getByText('No problems', { exact: true })).toBeVisible();

  // The Topology tab shows the unsaved draft: two tasks now.
  await page.getByRole('navigation', { name: 'Flow' }).getByRole('link', { name: 'Topology' }).click();
  await expect(page).toHaveURL(/\/flows\/e2e\/from_scratch\/topology$/);
  const nodes = page.locator('.topology-node.task');
  await expect(nodes).toHaveCount(2);
  await expect(page.getByRole('button', { name: 'second, log.Log' })).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'topology.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(artifacts, 'topology-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  await expect(page.getByText('Unsaved changes').first()).toBeVisible();

  // Zoom and fit change the view box; a node opens the editor at its line.
  const canvas = page.getByRole('group', { name: 'Topology of the flow' });
  const before = await canvas.getAttribute('viewBox');
  await page.getByRole('button', { name: 'Zoom in' }).click();
  expect(await canvas.getAttribute('viewBox')).not.toBe(before);
  await page.getByRole('button', { name: 'Fit' }).click();
  await expect(canvas).toHaveAttribute('viewBox', before!);
  await page.getByRole('button', { name: 'second, log.Log' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/flows\/e2e\/from_scratch\/editor$/);
  await expect(page.getByText('Line 8, column 9', { exact: true })).toBeVisible();
  await expect(editorOf(page)).toBeFocused();

  // Leaving the flow with unsaved changes asks first.
  page.once('dialog', (dialog) => dialog.dismiss());
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Flows' }).click();
  await expect(page).toHaveURL(/\/flows\/e2e\/from_scratch\/editor$/);
  await page.keyboard.press('Control+s');
  await expect(page.getByText('Saved as revision 3.')).toBeVisible();
});

test('revisions are listed, compared and restored', async ({ page }) => {
  await open(page, '/flows/e2e/from_scratch/revisions');
  const table = page.getByRole('table', { name: 'Revisions' });
  await expect(table.getByRole('row')).toHaveCount(4);
  // By default the last two are compared: the second task was added.
  await expect(page.getByText(/changed lines?/)).toBeVisible();
  await expect(page.locator('.diff-add', { hasText: '- id: second' })).toBeVisible();
  await page.getByRole('combobox', { name: /^From/ }).selectOption('1');
  await page.getByRole('combobox', { name: /^to/ }).selectOption('2');
  await expect(page.locator('.diff-add', { hasText: 'level: WARN' })).toBeVisible();

  await page.getByRole('button', { name: 'Restore revision 1' }).click();
  await expect(page.getByText('Revision 1 restored as revision 4.')).toBeVisible();
  await expect(page.locator('.flow-actions').getByText('Revision 4', { exact: true })).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(5);
  await page.getByRole('navigation', { name: 'Flow' }).getByRole('link', { name: 'Editor' }).click();
  await expect(editorOf(page)).not.toHaveValue(/second/);
  await expect(editorOf(page)).not.toHaveValue(/level/);
  const stored = await (await authFetch(`${server.url}/api/v1/flows/e2e/from_scratch`)).json();
  expect(stored.revision).toBe(4);
  expect(stored.source).not.toContain('second');
});

test('a blueprint prefills a new flow, and pages render without JavaScript', async ({ page, browser }) => {
  await open(page, '/flows/new?blueprint=databricks_dag');
  await expect(editorOf(page)).toHaveValue(/^id: databricks_dag\n/);
  await expect(page.locator('.topology-node[data-task-id="transform"]')).toBeVisible();

  await postFlow(server.url, (await (await authFetch(`${server.url}/api/v1/flows/e2e/from_scratch`)).json()).source.replace('from_scratch', 'static_one'));
  const context = await browser.newContext({ javaScriptEnabled: false });
  await logIn(context, server.url);
  const nojs = await context.newPage();
  await nojs.goto(`${server.url}/flows/e2e/static_one/topology`);
  await expect(nojs.locator('.topology-node[data-task-id="hello"]')).toBeVisible();
  await nojs.goto(`${server.url}/flows/e2e/static_one/editor`);
  await expect(nojs.getByRole('textbox', { name: 'Flow source (YAML)' })).toHaveValue(/id: static_one/);
  await expect(nojs.locator('.editor-highlight .tk', { hasText: 'namespace' })).toBeVisible();
  const missing = await nojs.goto(`${server.url}/flows/e2e/nope`);
  expect(missing?.status()).toBe(404);
  await expect(nojs.getByText('There is no flow e2e.nope.')).toBeVisible();
  const noExecution = await nojs.goto(`${server.url}/executions/nope`);
  expect(noExecution?.status()).toBe(404);
  await expect(nojs.getByRole('heading', { name: 'Execution not found' })).toBeVisible();
  await context.close();
});

test('the Executions tab lists the flow\'s executions', async ({ page }) => {
  await open(page, '/flows/e2e/from_scratch/executions');
  await expect(page.getByText('This flow has not run yet.')).toBeVisible();
  const response = await authFetch(`${server.url}/api/v1/executions/e2e/from_scratch?wait=true`, { method: 'POST', body: new FormData() });
  expect(response.ok).toBe(true);
  const execution = await response.json();
  await open(page, '/flows/e2e/from_scratch/executions');
  const link = page.getByRole('link', { name: execution.id });
  await expect(link).toHaveAttribute('href', `/executions/${execution.id}`);
  await expect(page.getByRole('row', { name: new RegExp(execution.id) })).toContainText('SUCCESS');
});
