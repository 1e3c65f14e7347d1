// Kestra's templates in the browser: a new one written in Mortar's editor
// and saved, a flow runs it with its args, an edit changes what the flow
// runs, and it is deleted.
import { test, expect, Page } from '@playwright/test';
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, postFlow, Server, authFetch, logIn } from './server';

test.describe.configure({ mode: 'serial' });

const artifacts = path.resolve(__dirname, '..', 'artifacts');
let server: Server;

test.beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await startServer();
});

test.beforeEach(async ({ context }) => {
  await logIn(context, server.url);
});

test.afterAll(async () => {
  await server?.stop();
});

async function replaceText(page: Page, name: string, text: string) {
  const editor = page.getByRole('textbox', { name });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

async function runUser(): Promise<any> {
  const run = await authFetch(`${server.url}/api/v1/executions/company.team/uses_template?wait=true`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  return run.json();
}

test('a template is written in the editor, run by a flow with its args, edited and deleted', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}/flows`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Templates' }).click();
  await expect(page).toHaveURL(/\/templates$/);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByText('No templates yet.')).toBeVisible();

  await page.getByRole('link', { name: 'New template' }).click();
  await expect(page.getByRole('heading', { name: 'New template' })).toBeVisible();
  await replaceText(page, 'YAML of New template', [
    'id: greet',
    'namespace: company.team',
    'description: Greets whoever the flow names',
    'tasks:',
    '  - id: say',
    '    type: io.kestra.plugin.core.debug.Return',
    '    format: "hello {{ parent.outputs.args.who }}"',
    '',
  ].join('\n'));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved company.team.greet' })).toBeVisible();
  await expect(page).toHaveURL(/namespace=company\.team&id=greet/);
  await expect(page.getByRole('list', { name: 'Templates' }).getByRole('link', { name: 'company.team.greet' })).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'templates.png'), fullPage: true });

  await postFlow(server.url, [
    'id: uses_template',
    'namespace: company.team',
    'tasks:',
    '  - id: greeting',
    '    type: io.kestra.plugin.core.flow.Template',
    '    namespace: company.team',
    '    templateId: greet',
    '    args:',
    '      who: Ada',
    '  - id: after',
    '    type: io.kestra.plugin.core.debug.Return',
    '    format: "{{ outputs.say.value }}"',
    '',
  ].join('\n'));
  let execution = await runUser();
  expect(execution.state.current).toBe('SUCCESS');
  expect(execution.taskRunList.find((r: any) => r.taskId === 'after').outputs.value).toBe('hello Ada');

  // An edit is what the next execution runs.
  await replaceText(page, 'YAML of company.team.greet', [
    'id: greet',
    'namespace: company.team',
    'tasks:',
    '  - id: say',
    '    type: io.kestra.plugin.core.debug.Return',
    '    format: "good morning {{ parent.outputs.args.who }}"',
    '',
  ].join('\n'));
  await page.keyboard.press('ControlOrMeta+s');
  await expect(page.getByRole('status').filter({ hasText: 'saved company.team.greet' })).toBeVisible();
  execution = await runUser();
  expect(execution.taskRunList.find((r: any) => r.taskId === 'after').outputs.value).toBe('good morning Ada');

  // A template the server refuses says why and is not saved.
  await replaceText(page, 'YAML of company.team.greet', 'id: greet\nnamespace: company.team\ntriggers: []\ntasks:\n  - id: say\n    type: log.Log\n    message: hi\n');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('`triggers` is not part of a template');

  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'deleted company.team.greet' })).toBeVisible();
  await expect(page.getByText('No templates yet.')).toBeVisible();
  execution = await runUser();
  expect(execution.state.current).toBe('FAILED');
  expect(errors).toEqual([]);
});
