// A namespace's KV store in the browser: set keys from the form, see them
// listed with their types, a flow reads one with kv(), delete one.
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

test('keys are set, listed, read by a flow and deleted from the KV page', async ({ page }) => {
  await postFlow(server.url, 'id: reader\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: "{{ kv(\'region\') }} has {{ kv(\'limits\').max }}"\n');
  // The flows list leads to its namespace's KV store.
  await open(page, '/flows');
  await page.getByRole('link', { name: 'company.team' }).click();
  await expect(page).toHaveURL(/\/namespaces\/company\.team\/kv$/);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByText('No keys in this namespace yet.')).toBeVisible();

  const form = page.getByRole('form', { name: 'Set a key' });
  await form.getByLabel('Key').fill('region');
  await form.getByLabel('Value').fill('eu-west');
  await form.getByLabel('Expires after').fill('PT1H');
  await form.getByRole('button', { name: 'Set' }).click();
  const region = page.getByRole('row', { name: /region/ });
  await expect(region).toContainText('STRING');
  await expect(region).toContainText('eu-west');
  await expect(region).not.toContainText('never');
  await expect(form.getByLabel('Key')).toHaveValue('');

  await form.getByLabel('Key').fill('limits');
  await form.getByLabel('Value').fill('{"max": 10}');
  await form.getByRole('button', { name: 'Set' }).click();
  const limits = page.getByRole('row', { name: /limits/ });
  await expect(limits).toContainText('JSON');
  await expect(limits).toContainText('never');

  // A bad key is refused with the reason, and nothing is added.
  await form.getByLabel('Key').fill('../escape');
  await form.getByLabel('Value').fill('x');
  await form.getByRole('button', { name: 'Set' }).click();
  await expect(page.getByRole('alert')).toContainText('key "../escape" must start');
  await page.screenshot({ path: path.join(artifacts, 'kv.png'), fullPage: true });

  // A flow of the namespace reads both.
  const run = await authFetch(`${server.url}/api/v1/executions/company.team/reader?wait=true`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const execution = await run.json();
  expect(execution.state.current).toBe('SUCCESS');
  expect(execution.taskRunList[0].outputs.value).toBe('eu-west has 10');

  await page.getByRole('button', { name: 'Delete region' }).click();
  await expect(page.getByRole('row', { name: /region/ })).toHaveCount(0);
  await expect(page.getByRole('row', { name: /limits/ })).toBeVisible();
});
