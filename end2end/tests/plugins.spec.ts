// The blueprints that chain the plugin tasks with the Databricks ones
// (scripts, serdes, SQLite, Slack, email), each saved, run from its flow's
// Execute button and watched to its end in the browser, against the
// emulator `mortar serve` embeds. Slack and SMTP are receivers this spec
// runs on free ports; the server reads their addresses from SECRET_…
// variables, as Kestra's open-source edition reads secrets.
import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { startServer, postFlow, Server, logIn, authFetch } from './server';

test.describe.configure({ mode: 'serial' });

const repoRoot = path.resolve(__dirname, '..', '..');

/// What the Slack receiver was sent, one JSON body a post.
const posts: string[] = [];
/// What the SMTP receiver was sent: each email's envelope and message.
const mails: string[] = [];
let slack: http.Server;
let smtp: net.Server;
let server: Server;

function listen(s: http.Server | net.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

/// Plain SMTP, enough for a client without TLS: a greeting, 250 to EHLO,
/// MAIL and RCPT, 354 to DATA and the message up to its lone dot, 221 to
/// QUIT.
function smtpServer(): net.Server {
  return net.createServer((socket) => {
    let buffered = '';
    let envelope = '';
    let data: string | null = null;
    socket.write('220 localhost ESMTP e2e\r\n');
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      for (;;) {
        if (data !== null) {
          const end = buffered.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data += buffered.slice(0, end);
          buffered = buffered.slice(end + 5);
          mails.push(envelope + data);
          envelope = '';
          data = null;
          socket.write('250 queued\r\n');
          continue;
        }
        const end = buffered.indexOf('\r\n');
        if (end < 0) return;
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const verb = line.toUpperCase();
        if (verb === 'DATA') {
          data = '';
          socket.write('354 go on\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
          return;
        } else {
          if (verb.startsWith('MAIL') || verb.startsWith('RCPT')) envelope += line + '\n';
          socket.write('250 ok\r\n');
        }
      }
    });
    socket.on('error', () => {});
  });
}

test.beforeAll(async () => {
  slack = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      posts.push(body);
      response.end('ok');
    });
  });
  smtp = smtpServer();
  const [slackPort, smtpPort] = [await listen(slack), await listen(smtp)];
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  server = await startServer({
    MORTAR_EMULATOR_TIME_SCALE: '0.01',
    SECRET_SLACK_WEBHOOK: base64(`http://127.0.0.1:${slackPort}/services/e2e`),
    SECRET_SMTP_HOST: base64('127.0.0.1'),
    SECRET_SMTP_PORT: base64(String(smtpPort)),
  });
});

test.afterAll(async () => {
  await server?.stop();
  await new Promise((resolve) => (slack ? slack.close(resolve) : resolve(undefined)));
  await new Promise((resolve) => (smtp ? smtp.close(resolve) : resolve(undefined)));
});

let pageErrors: string[] = [];
test.beforeEach(async ({ page, context }) => {
  await logIn(context, server.url);
  pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('panicked')) pageErrors.push(message.text());
  });
});
test.afterEach(async () => {
  expect(pageErrors).toEqual([]);
});

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/// Saves the blueprint `file` (unless a test before did), opens its flow's
/// page and starts it with the Execute button, `inputs` typed into the form
/// by label; returns the execution's id once its page shows `state`.
async function runBlueprint(page: Page, file: string, state: string, inputs: Record<string, string> = {}): Promise<string> {
  const source = readFileSync(path.join(repoRoot, 'blueprints', file), 'utf8');
  const id = source.match(/^id: (\S+)/m)![1];
  if ((await authFetch(`${server.url}/api/v1/flows/company.data/${id}`)).status === 404) {
    await postFlow(server.url, source);
  }
  await page.goto(`${server.url}/flows/company.data/${id}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Execute', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: new RegExp(`Execute ${id}`) });
  await expect(dialog).toBeVisible();
  for (const [name, value] of Object.entries(inputs)) {
    await dialog.getByLabel(name).fill(value);
  }
  await dialog.getByRole('button', { name: 'Execute' }).click();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(state, { timeout: 60_000 });
  return page.url().split('/').pop()!;
}

/// The one Slack post that contains `text`, once it arrived.
async function postWith(text: string): Promise<string> {
  await expect.poll(() => posts.filter((p) => p.includes(text)).length, { message: `a Slack post with ${text}` }).toBe(1);
  return posts.find((p) => p.includes(text))!;
}

test('a Python script prepares a CSV that Databricks sums up, and Slack gets the totals', async ({ page }) => {
  const sent = mails.length;
  const id = await runBlueprint(page, 'python_csv_to_slack.yml', 'SUCCESS');
  const post = JSON.parse(await postWith(`execution ${id}`));
  expect(post.text).toContain('*Orders by region* (3 regions');
  expect(post.text).toContain('region,orders,total\nAPAC,10,615\nEMEA,10,535\nAMER,10,515');
  await expect(page.locator('.topology-node[data-task-id="notify"]')).toContainText('SUCCESS');
  // The query's Ion result downloads as CSV and as JSON, converted by the server.
  const asCsv = page.getByRole('link', { name: 'Download as CSV' });
  await expect(asCsv).toHaveAttribute('download', /by_region-.*\.csv$/);
  const csv = await page.request.get(new URL((await asCsv.getAttribute('href'))!, server.url).toString());
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toBe('region,orders,total\nAPAC,10,615\nEMEA,10,535\nAMER,10,515\n');
  const asJson = page.getByRole('link', { name: 'Download as JSON' });
  const json = await page.request.get(new URL((await asJson.getAttribute('href'))!, server.url).toString());
  expect(await json.json()).toEqual([
    { region: 'APAC', orders: 10, total: 615 },
    { region: 'EMEA', orders: 10, total: 535 },
    { region: 'AMER', orders: 10, total: 515 },
  ]);
  expect(mails.length).toBe(sent);
});

test('the quality gate passes by default and Slack hears how many readings were missing', async ({ page }) => {
  const sent = mails.length;
  await runBlueprint(page, 'sensor_quality_gate.yml', 'SUCCESS');
  const post = JSON.parse(await postWith('Sensor readings passed the quality gate'));
  expect(post.text).toContain('5.0% missing');
  expect(post.blocks[0].text.text).toContain('2 of 40 readings missing');
  expect(post.blocks[0].text.text).toContain('4 sensors summed up');
  expect(mails.length).toBe(sent);
});

test('the quality gate closes on a stricter threshold: the execution fails and the data team gets an email', async ({ page }) => {
  const [postsBefore, sent] = [posts.length, mails.length];
  const id = await runBlueprint(page, 'sensor_quality_gate.yml', 'FAILED', { max_missing_percent: '1' });
  await expect(page.getByRole('log', { name: 'Log lines' })).toContainText('5.0% of the readings are missing; at most 1.0% may be');
  await expect(page.locator('.topology-node[data-task-id="gate"]')).toContainText('FAILED');
  await expect.poll(() => mails.length).toBe(sent + 1);
  // The HTML part is quoted-printable: its soft line breaks are undone.
  const mail = mails[sent].replace(/=\r\n/g, '');
  expect(mail).toContain('RCPT TO:<data-team@company.com>');
  expect(mail).toContain('Subject: company.data.sensor_quality_gate failed its data-quality gate');
  expect(mail).toContain(`Execution ${id} of sensor_quality_gate stopped`);
  expect(mail).toContain('gate: 1 assertion failed!');
  expect(posts.length).toBe(postsBefore);
});

test('a shell export is cleaned up through Ion, summed on Databricks, and Slack gets the execution summary', async ({ page }) => {
  const sent = mails.length;
  const id = await runBlueprint(page, 'shell_export_cleanup.yml', 'SUCCESS');
  const post = JSON.parse(await postWith(id));
  expect(post.blocks[0].text.text).toBe('Store export cleaned up: 9 lines kept');
  expect(post.text).toContain('[company.data] shell_export_cleanup');
  expect(post.text).toContain('Succeeded after');
  expect(post.attachments[0].fields).toContainEqual({ title: 'Stores', value: '3', short: true });
  // afterExecution reports the final state, as Kestra's does.
  expect(post.text).toContain('shell_export_cleanup ➛ SUCCESS');
  // The JSON the API would serve is one of the execution's files.
  await expect(page.getByRole('link', { name: /Download to_json-.*\.json/ })).toBeVisible();
  expect(mails.length).toBe(sent);
});

test('stock from a SQLite database is joined with the sales on Databricks, and Slack gets the restocking list', async ({ page }) => {
  const sent = mails.length;
  await runBlueprint(page, 'sqlite_stock_to_databricks.yml', 'SUCCESS');
  const post = JSON.parse(await postWith('Restock'));
  expect(post.text).toContain('*Restock 2 products* (fewer than 50 on hand)');
  expect(post.text).toContain('product,on_hand,sales,revenue\nwidget,12,3,430.4\ngizmo,31,2,75.55');
  expect(mails.length).toBe(sent);
});
