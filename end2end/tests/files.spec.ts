// A namespace's files in the browser: make one and edit it in Mortar's
// editor, save revisions, look at an older one and restore it, upload
// another, a flow reads them, delete one.
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

async function open(page: Page, url: string) {
  await page.goto(`${server.url}${url}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

async function replaceText(page: Page, name: string, text: string) {
  const editor = page.getByRole('textbox', { name });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text);
}

async function runReader(): Promise<string> {
  const run = await authFetch(`${server.url}/api/v1/executions/company.team/reader?wait=true`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const execution = await run.json();
  expect(execution.state.current).toBe('SUCCESS');
  return execution.taskRunList[0].outputs.value;
}

test('files are made, edited with revisions, uploaded, read by a flow and deleted', async ({ page }) => {
  await postFlow(server.url, 'id: reader\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: "{{ read(\'sql/q.sql\') }} + {{ read(\'data/rows.csv\') | trim }}"\n');
  // The KV page leads to the namespace's files.
  await open(page, '/namespaces/company.team/kv');
  await page.getByRole('link', { name: 'Files' }).click();
  await expect(page).toHaveURL(/\/namespaces\/company\.team\/files$/);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByText('No files in this namespace yet.')).toBeVisible();

  // A new file opens empty in the editor and exists once saved.
  const form = page.getByRole('form', { name: 'New file' });
  await form.getByLabel('New file').fill('sql/q.sql');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/path=sql%2Fq\.sql/);
  await expect(page.getByText('new, not saved yet')).toBeVisible();
  await replaceText(page, 'Content of /sql/q.sql', 'SELECT 1');
  await expect(page.getByText('unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved /sql/q.sql' })).toBeVisible();
  await expect(page.getByText('unsaved changes')).toHaveCount(0);
  await expect(page.getByRole('list', { name: 'Files' }).getByRole('link', { name: '/sql/q.sql' })).toBeVisible();

  // A second save is a second revision.
  await replaceText(page, 'Content of /sql/q.sql', 'SELECT 2');
  await page.keyboard.press('ControlOrMeta+s');
  await expect(page.getByText('unsaved changes')).toHaveCount(0);

  // Upload a file into a folder.
  const upload = page.getByRole('form', { name: 'Upload a file' });
  await upload.getByLabel('File to upload').setInputFiles({ name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') });
  await upload.getByLabel('Into folder').fill('data');
  await upload.getByRole('button', { name: 'Upload', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Files' }).getByRole('link', { name: '/data/rows.csv' })).toBeVisible();
  expect(await runReader()).toBe('SELECT 2 + a,b\n1,2');

  // The older revision, read only until restored.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Revision').selectOption('1');
  await expect(page).toHaveURL(/revision=1/);
  await expect(page.getByRole('textbox', { name: 'Content of /sql/q.sql' })).toHaveValue('SELECT 1');
  await page.screenshot({ path: path.join(artifacts, 'files.png'), fullPage: true });
  await page.getByRole('button', { name: 'Restore this revision' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved /sql/q.sql' })).toBeVisible();
  expect(await runReader()).toBe('SELECT 1 + a,b\n1,2');
  const revisions = await (await authFetch(`${server.url}/api/v1/namespaces/company.team/files/revisions?path=/sql/q.sql`)).json();
  expect(revisions).toEqual([{ revision: 1 }, { revision: 2 }, { revision: 3 }]);

  // A bad path is refused with the reason; delete one file.
  await form.getByLabel('New file').fill('../escape.sql');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('alert')).toContainText('without . or ..');
  await page.getByRole('list', { name: 'Files' }).getByRole('link', { name: '/data/rows.csv' }).click();
  await expect(page.getByRole('textbox', { name: 'Content of /data/rows.csv' })).toHaveValue('a,b\n1,2\n');
  await page.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('list', { name: 'Files' }).getByRole('link', { name: '/data/rows.csv' })).toHaveCount(0);
  await expect(page.getByRole('list', { name: 'Files' }).getByRole('link', { name: '/sql/q.sql' })).toBeVisible();
});

test('a namespace exports as a .zip from its Files page, and the .zip uploaded to another namespace imports files and flows', async ({ page }) => {
  await postFlow(server.url, 'id: sql_reader\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: "{{ read(\'sql/q.sql\') }}"\n');
  await open(page, '/namespaces/company.team/files');
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export as .zip' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('company.team_files.zip');
  const zipPath = path.join(artifacts, 'company.team_files.zip');
  await download.saveAs(zipPath);

  await open(page, '/namespaces/company.copy/files');
  await expect(page.getByText('No files in this namespace yet.')).toBeVisible();
  const upload = page.getByRole('form', { name: 'Upload a file' });
  await upload.getByLabel('File to upload').setInputFiles(zipPath);
  await upload.getByRole('button', { name: 'Upload', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Files' }).getByRole('link', { name: '/sql/q.sql' })).toBeVisible();
  // The flow came with the files, into this namespace, and reads them.
  const run = await authFetch(`${server.url}/api/v1/executions/company.copy/sql_reader?wait=true`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const execution = await run.json();
  expect(execution.state.current).toBe('SUCCESS');
  expect(execution.taskRunList[0].outputs.value).toBe('SELECT 1');
});
