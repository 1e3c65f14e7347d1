// Logging in and out in a real browser, the pages' Content-Security-Policy
// (no violation on any page), what a viewer sees, API tokens made on the
// account page.
import { test, expect, Page } from '@playwright/test';
import { startServer, postFlow, addUser, authFetch, logIn, Server, ADMIN } from './server';

test.describe.configure({ mode: 'serial' });

let server: Server & { dataDir: string };

test.beforeAll(async () => {
  server = await startServer();
  addUser(server.dataDir, 'vera', 'viewer', 'viewer password');
  await postFlow(server.url, 'id: hello\nnamespace: tutorial\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n');
});

test.afterAll(async () => {
  await server?.stop();
});

// Any policy violation or page error fails the test.
let problems: string[] = [];
test.beforeEach(async ({ page }) => {
  problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && (text.includes('Content Security Policy') || text.includes('panicked'))) problems.push(text);
  });
});
test.afterEach(async () => {
  expect(problems).toEqual([]);
});

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test('a page asks for a login, the form logs in and goes back there, the header logs out', async ({ page }) => {
  await page.goto(`${server.url}/flows`);
  await expect(page).toHaveURL(/\/login\?next=%2Fflows/);
  await page.getByLabel('User').fill(ADMIN.user);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toContainText('wrong user name or password');
  await page.getByLabel('User').fill(ADMIN.user);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(`${server.url}/flows`);
  await hydrated(page);
  await expect(page.locator('.user-menu')).toContainText(ADMIN.user);
  await expect(page.getByRole('link', { name: 'Audit' })).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto(`${server.url}/flows`);
  await expect(page).toHaveURL(/\/login/);
});

test('every page runs under the policy: scripts with the nonce, the wasm, nothing inline', async ({ page, context }) => {
  await logIn(context, server.url);
  const started = await (await authFetch(`${server.url}/api/v1/executions/tutorial/hello?wait=true`, { method: 'POST' })).json();
  for (const path of ['/', '/flows', '/flows/tutorial/hello', '/flows/tutorial/hello/editor', '/flows/tutorial/hello/topology', '/executions', `/executions/${started.id}`, '/blueprints', '/namespaces/tutorial/kv', '/account', '/users', '/audit', '/nodes']) {
    const response = await page.goto(`${server.url}${path}`);
    expect(response!.status(), path).toBe(200);
    expect(response!.headers()['content-security-policy'], path).toContain("script-src 'self' 'nonce-");
    await hydrated(page);
  }
  // Client-side navigation and a server function under the policy too.
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Executions' }).first().click();
  await expect(page).toHaveURL(`${server.url}/executions`);
  await expect(page.getByRole('table')).toContainText('hello');
});

test('an admin finds the server among the nodes: its roles, alive, from the header link', async ({ page, context }) => {
  await logIn(context, server.url);
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Nodes' }).click();
  await expect(page).toHaveURL(`${server.url}/nodes`);
  const row = page.getByTestId('nodes').locator('tbody tr').first();
  await expect(row).toContainText('web, executor, scheduler');
  await expect(row).toContainText('alive');
});

test('a viewer reads but is offered no Execute, and the server refuses them anyway', async ({ page, context }) => {
  await logIn(context, server.url, 'vera', 'viewer password');
  await page.goto(`${server.url}/flows/tutorial/hello`);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'hello', level: 1 })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Execute' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Users' })).toHaveCount(0);
  // The page's own fetch, with the session and its CSRF token.
  const status = await page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')!;
    const response = await fetch('/api/v1/executions/tutorial/hello', { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
    return [response.status, (await response.json()).message];
  });
  expect(status).toEqual([403, 'vera needs the operator role on namespace tutorial to do this (granted: viewer)']);
});

test('a token made on the account page is shown once and works as a bearer token', async ({ page, context }) => {
  await logIn(context, server.url);
  await page.goto(`${server.url}/account`);
  await hydrated(page);
  await page.getByLabel('Name').fill('ci');
  await page.getByRole('button', { name: 'Make a token' }).click();
  const token = (await page.getByTestId('new-token').textContent())!.trim();
  expect(token).toMatch(/^mtk_/);
  await expect(page.getByRole('table')).toContainText('ci');
  const me = await fetch(`${server.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  expect(me.status).toBe(200);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  await page.getByRole('button', { name: 'Revoke ci' }).click();
  await expect(page.getByRole('table')).toContainText('revoked');
  expect((await fetch(`${server.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
});
