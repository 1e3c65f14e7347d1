// The /flows page: server rendering, hydration, search, the empty state.
import { test, expect } from '@playwright/test';
import { startServer, postFlow, Server, authFetch, logIn } from './server';

// One fresh server for this file; the tests build on each other's data.
test.describe.configure({ mode: 'serial' });

let server: Server;

test.beforeAll(async () => {
  server = await startServer();
});

// Every page opens logged in, as the admin.
test.beforeEach(async ({ context }) => {
  await logIn(context, server.url);
});

test.afterAll(async () => {
  await server?.stop();
});

test('an empty store shows how to add a flow', async ({ page }) => {
  await page.goto(`${server.url}/flows`);
  await expect(page.getByRole('heading', { name: 'No flows yet' })).toBeVisible();
  await expect(page.getByText('/api/v1/flows')).toBeVisible();
  await expect(page.getByRole('link', { name: 'blueprints', exact: true })).toHaveAttribute('href', '/blueprints');
});

test('stored flows appear in the list', async ({ page }) => {
  await postFlow(server.url, 'id: hello\nnamespace: tutorial\ndescription: Says hello\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n');
  await postFlow(server.url, 'id: nightly_load\nnamespace: company.data\ndescription: Loads sales every night\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n');
  await page.goto(`${server.url}/flows`);
  const rows = page.getByRole('row');
  await expect(rows.filter({ hasText: 'hello' })).toContainText('tutorial');
  await expect(rows.filter({ hasText: 'nightly_load' })).toContainText('Loads sales every night');
  await expect(page.getByRole('heading', { name: 'No flows yet' })).toHaveCount(0);
});

test('the page is rendered on the server and searchable with JavaScript off', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await logIn(context, server.url);
  const page = await context.newPage();
  await page.goto(`${server.url}/flows`);
  await expect(page.getByRole('link', { name: 'Flows' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('cell', { name: 'nightly_load' })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'hello', exact: true })).toBeVisible();
  // Without JavaScript the search box is a plain GET form.
  await page.getByRole('searchbox', { name: 'Search flows' }).fill('nightly');
  await page.getByRole('searchbox', { name: 'Search flows' }).press('Enter');
  await expect(page).toHaveURL(/\/flows\?q=nightly$/);
  await expect(page.getByRole('cell', { name: 'nightly_load' })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'hello', exact: true })).toHaveCount(0);
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
  await context.close();
});

test('after hydration the search box filters without a reload', async ({ page }) => {
  await page.goto(`${server.url}/flows`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  // A reload would drop this marker.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const search = page.getByRole('searchbox', { name: 'Search flows' });
  await search.pressSequentially('tutor');
  await expect(page.getByRole('cell', { name: 'hello', exact: true })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'nightly_load' })).toHaveCount(0);
  await search.fill('no-such-flow');
  await expect(page.getByRole('status')).toContainText('No flow matches');
  await search.fill('');
  await expect(page.getByRole('cell', { name: 'nightly_load' })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  expect(page.url()).toBe(`${server.url}/flows`);
});

test('the navigation reaches the other pages', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Flows' }).click();
  await expect(page).toHaveURL(/\/flows$/);
  await expect(page.getByRole('heading', { name: 'Flows', level: 1 })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Blueprints' }).click();
  await expect(page.getByRole('heading', { name: 'Blueprints', level: 1 })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'databricks_upload_query' })).toBeVisible();
  await nav.getByRole('link', { name: 'Executions' }).click();
  await expect(page.getByRole('heading', { name: 'Executions', level: 1 })).toBeVisible();
  const missing = await page.goto(`${server.url}/no/such/page`);
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
