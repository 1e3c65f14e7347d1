// A flow's triggers in the browser: the Triggers tab shows each with its
// next date, an editor turns one off (a Webhook then answers 404) and on.
import { test, expect, Page } from '@playwright/test';
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, postFlow, Server, logIn } from './server';

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

test('triggers are listed with their next date and turned off and on', async ({ page }) => {
  await postFlow(server.url, 'id: hooked\nnamespace: company.team\ntasks:\n  - id: hi\n    type: log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: the-key\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "0 2 * * *"\n');
  await open(page, '/flows/company.team/hooked');
  await page.getByRole('link', { name: 'Triggers' }).click();
  await expect(page).toHaveURL(/\/flows\/company\.team\/hooked\/triggers$/);
  const nightly = page.getByRole('row', { name: /nightly/ });
  await expect(nightly).toContainText('trigger.Schedule');
  // The scheduler has seen it (the save woke it): its next run, at 02:00 UTC.
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('row', { name: /nightly/ })).toContainText('02:00', { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  const hook = page.getByRole('row', { name: /hook/ }).filter({ hasText: 'trigger.Webhook' });
  await expect(hook).toContainText('on');
  await expect(hook).toContainText('never');

  await page.getByRole('button', { name: 'Turn off hook' }).click();
  await expect(page.getByRole('button', { name: 'Turn on hook' })).toBeVisible();
  await expect(page.getByRole('row', { name: /hook/ }).filter({ hasText: 'trigger.Webhook' })).toContainText('off');
  const refused = await fetch(`${server.url}/api/v1/executions/webhook/company.team/hooked/the-key`, { method: 'POST' });
  expect(refused.status).toBe(404);
  await page.screenshot({ path: path.join(artifacts, 'triggers.png'), fullPage: true });

  await page.getByRole('button', { name: 'Turn on hook' }).click();
  await expect(page.getByRole('button', { name: 'Turn off hook' })).toBeVisible();
  const started = await fetch(`${server.url}/api/v1/executions/webhook/company.team/hooked/the-key`, { method: 'POST' });
  expect(started.status).toBe(200);
  const execution = await started.json();
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByRole('row', { name: /hook/ }).filter({ hasText: 'trigger.Webhook' }).getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/executions/${execution.id}$`));
});
