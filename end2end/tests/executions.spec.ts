// Executions in the browser: the Execute form with a file input, the live
// execution page (logs over SSE, the Gantt, query results), Kill and
// Restart, against a real `mortar serve` whose Databricks is a separate
// `mortar emulator`, so that the test can ask the emulator what happened.
import { test, expect, Page } from '@playwright/test';
import { readFileSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startServer, spawnMortar, postFlow, Server, authFetch, logIn } from './server';

test.describe.configure({ mode: 'serial' });

const repoRoot = path.resolve(__dirname, '..', '..');
const artifacts = path.resolve(__dirname, '..', 'artifacts');
const token = 'dapi-e2e-executions';

type Emulator = Server;

/// `mortar emulator` on port 0 with a known token and its clock sped up.
function startEmulator(): Promise<Emulator> {
  return spawnMortar(['emulator', '--listen', '127.0.0.1:0', '--token', token, '--time-scale', '0.01']);
}

async function databricks(emulator: Emulator, method: string, apiPath: string, body?: string): Promise<any> {
  const response = await fetch(`${emulator.url}${apiPath}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body,
  });
  if (!response.ok) {
    throw new Error(`${method} ${apiPath}: ${response.status} ${await response.text()}`);
  }
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

let emulator: Emulator;
let server: Server;

test.beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  emulator = await startEmulator();
  server = await startServer({ DATABRICKS_HOST: emulator.url, DATABRICKS_TOKEN: token });
});

test.afterAll(async () => {
  await server?.stop();
  await emulator?.stop();
});

// A panic in the browser bundle (a hydration mismatch, say) is an uncaught
// error: none may happen on these pages.
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

test('the upload-and-query blueprint runs from the Execute form and shows its logs, timeline and rows', async ({ page }) => {
  await postFlow(server.url, readFileSync(path.join(repoRoot, 'blueprints', 'databricks_upload_query.yml'), 'utf8'));
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  const row = page.getByRole('row').filter({ hasText: 'databricks_upload_query' });
  await expect(row).toContainText('never run');
  await row.getByRole('button', { name: 'Execute' }).click();

  const dialog = page.getByRole('dialog', { name: /Execute databricks_upload_query/ });
  await expect(dialog).toBeVisible();
  const file = dialog.getByLabel(/sales/);
  await expect(file).toHaveAttribute('type', 'file');
  await file.setInputFiles({
    name: 'sales.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('region,amount\nEU,10\nUS,25\nEU,7\nAPAC,4\n'),
  });
  await dialog.getByLabel('Labels').fill('team:e2e');
  await dialog.getByRole('button', { name: 'Execute' }).click();

  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  await hydrated(page);
  // The logs stream in over SSE, and the Gantt gains a row per task as the
  // tasks start.
  const log = page.getByRole('log', { name: 'Log lines' });
  await expect(log).toContainText('statement');
  const ganttRows = page.getByRole('table', { name: 'Task runs over time' }).getByRole('row');
  await expect(ganttRows).toHaveCount(6, { timeout: 30_000 }); // the axis and five tasks
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SUCCESS', { timeout: 30_000 });
  await expect(log).toContainText('3 regions; the top one is US');
  // The topology shows each task's state, live.
  const upload = page.locator('.topology-node[data-task-id="upload"]');
  await expect(upload).toContainText('SUCCESS');
  await expect(page.locator('.topology-node .node-state')).toHaveCount(5);
  await expect(page.getByText('team: e2e')).toBeVisible();

  // The STORE result is a JSON Lines file, previewed as a sortable table.
  const totals = page.getByRole('table', { name: /Preview of totals-result\.ion/ });
  await expect(totals.getByRole('row')).toHaveCount(4);
  await expect(totals.getByRole('row').nth(1)).toContainText('US');
  await expect(totals.getByRole('row').nth(1)).toContainText('25');
  await totals.getByRole('button', { name: 'total' }).click();
  await expect(totals.getByRole('row').nth(1)).toContainText('APAC');
  await expect(page.getByRole('link', { name: /Download totals-result\.ion/ })).toHaveAttribute('href', /\/file\?path=storage/);

  // Search with highlights, and the level filter.
  await page.getByRole('searchbox', { name: 'Search the logs' }).fill('regions');
  await expect(log.locator('mark')).toHaveText(['regions']);
  await page.screenshot({ path: path.join(artifacts, 'upload-query-success.png'), fullPage: true });

  // The list and the dashboard know it.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Executions' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'databricks_upload_query' })).toContainText('SUCCESS');
});

test('a 50 MB CSV uploads through the Execute form with its progress, and the blueprint puts it on DBFS', async ({ page }) => {
  test.setTimeout(180_000);
  // The first test saved the blueprint; alone, this one saves it.
  if ((await authFetch(`${server.url}/api/v1/flows/company.data/databricks_upload_query`)).status === 404) {
    await postFlow(server.url, readFileSync(path.join(repoRoot, 'blueprints', 'databricks_upload_query.yml'), 'utf8'));
  }
  // About 1 KB a row, four regions: 50 MB that the warehouse still sums
  // in seconds.
  const regions = ['EU', 'US', 'APAC', 'LATAM'];
  const pad = 'x'.repeat(1000);
  let size = 'region,amount\n'.length;
  let i = 0;
  const parts: string[] = ['region,amount\n'];
  while (size < 50 * 1024 * 1024) {
    const line = `${regions[i % 4]}-${pad},${(i % 4) + 1}\n`;
    parts.push(line);
    size += line.length;
    i++;
  }
  const csv = Buffer.from(parts.join(''));

  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('row').filter({ hasText: 'databricks_upload_query' }).getByRole('button', { name: 'Execute' }).click();
  const dialog = page.getByRole('dialog', { name: /Execute databricks_upload_query/ });
  // Playwright takes a file this big from disk only.
  const csvPath = path.join(mkdtempSync(path.join(tmpdir(), 'mortar-e2e-')), 'sales.csv');
  writeFileSync(csvPath, csv);
  await dialog.getByLabel(/sales/).setInputFiles(csvPath);
  // Chromium sends at 20 MB/s, so that the upload lasts long enough to be
  // watched.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 20 * 1024 * 1024 });
  await dialog.getByRole('button', { name: 'Execute' }).click();
  const status = dialog.locator('.upload-progress [role="status"]');
  await expect(status).toContainText(/Uploading [\d.]+ of 5\d\.\d MB \(\d+%\)/);
  await expect(dialog.getByRole('progressbar', { name: 'Upload' })).toBeVisible();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/, { timeout: 60_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const id = page.url().split('/').pop();
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SUCCESS', { timeout: 120_000 });
  await expect(page.getByRole('log', { name: 'Log lines' })).toContainText('4 regions; the top one is LATAM');
  // The whole file is on the emulator's DBFS, byte for byte in size.
  const stat = await databricks(emulator, 'GET', `/api/2.0/dbfs/get-status?path=${encodeURIComponent(`/mortar/${id}/sales.csv`)}`);
  expect(stat.file_size).toBe(csv.length);
  rmSync(path.dirname(csvPath), { recursive: true, force: true });
});

test('a running execution is killed from its page, and the emulator run is cancelled', async ({ page }) => {
  await postFlow(
    server.url,
    [
      'id: long_job',
      'namespace: e2e',
      'tasks:',
      '  - id: long_run',
      '    type: io.kestra.plugin.databricks.job.SubmitRun',
      '    runName: e2e-long',
      '    runTasks:',
      '      - taskKey: sleepy',
      '        newCluster:',
      '          sparkVersion: 15.4.x-scala2.12',
      '          nodeTypeId: i3.xlarge',
      '          numWorkers: 1',
      '        notebookTask:',
      '          notebookPath: /Shared/mortar-examples/aggregate',
      '          baseParameters:',
      '            emulator_sleep: "36000"',
      '    waitForCompletion: PT5H',
      '',
    ].join('\n'),
  );
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('row').filter({ hasText: 'long_job' }).getByRole('button', { name: 'Execute' }).click();
  await page.getByRole('dialog', { name: /Execute long_job/ }).getByRole('button', { name: 'Execute' }).click();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  await hydrated(page);

  // The task shows its remote run while it waits.
  const taskRow = page.getByRole('region', { name: 'Task runs' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'long_run' }) });
  await expect(taskRow).toContainText(/run \d+/);
  const runId = (await taskRow.textContent())!.match(/run (\d+)/)![1];
  // The remote run's page and state, read from the task's log lines.
  await expect(taskRow.getByRole('link', { name: 'Open in Databricks' })).toHaveAttribute('href', new RegExp(`^${emulator.url}.*run/${runId}`));
  await expect(taskRow).toContainText(/remote state (PENDING|QUEUED|RUNNING)/);
  const bar = page.locator('.gantt-bar.running').first();
  const before = Number(await bar.getAttribute('data-duration-ms'));
  await expect.poll(async () => Number(await bar.getAttribute('data-duration-ms'))).toBeGreaterThan(before);
  await page.screenshot({ path: path.join(artifacts, 'long-job-running.png'), fullPage: true });

  await page.getByRole('button', { name: 'Kill', exact: true }).click();
  const confirm = page.getByRole('dialog', { name: 'Kill this execution?' });
  await expect(confirm).toBeVisible();
  await confirm.getByRole('button', { name: 'Kill execution' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('KILLED', { timeout: 30_000 });
  await expect(page.getByRole('log', { name: 'Log lines' })).toContainText(`cancelled run ${runId}`);

  const run = await databricks(emulator, 'GET', `/api/2.2/jobs/runs/get?run_id=${runId}`);
  expect(run.state.life_cycle_state).toMatch(/TERMINAT/);
  expect(run.state.result_state).toBe('CANCELED');
  await expect(page.getByRole('button', { name: 'Restart' })).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'long-job-killed.png'), fullPage: true });
});

test('a failed execution is restarted from its page and then succeeds', async ({ page }) => {
  const name = `/e2e/restart-${Date.now()}.csv`;
  await postFlow(
    server.url,
    ['id: needs_file', 'namespace: e2e', 'tasks:', '  - id: fetch', '    type: io.kestra.plugin.databricks.dbfs.Download', `    from: "${name}"`, ''].join('\n'),
  );
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('row').filter({ hasText: 'needs_file' }).getByRole('button', { name: 'Execute' }).click();
  await page.getByRole('dialog', { name: /Execute needs_file/ }).getByRole('button', { name: 'Execute' }).click();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('FAILED', { timeout: 30_000 });

  // The file appears on Databricks; Restart runs the failed task again.
  const contents = Buffer.from('region,amount\nEU,1\n').toString('base64');
  await databricks(emulator, 'POST', '/api/2.0/dbfs/put', JSON.stringify({ path: name, contents, overwrite: true }));
  await page.getByRole('button', { name: 'Restart' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SUCCESS', { timeout: 30_000 });
  const taskRow = page.getByRole('region', { name: 'Task runs' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'fetch' }) });
  await expect(taskRow.getByRole('listitem')).toHaveCount(2); // two attempts
  await expect(page.getByRole('table', { name: /Preview of/ })).toContainText('EU');
  await page.screenshot({ path: path.join(artifacts, 'restarted.png'), fullPage: true });

  // Replay from the chosen task run: a new execution that says where it
  // comes from.
  const original = page.url().split('/').pop()!;
  await page.getByRole('button', { name: 'Replay' }).click();
  const replay = page.getByRole('dialog', { name: 'Replay' });
  await replay.getByLabel('Replay from').selectOption({ label: 'fetch' });
  await replay.getByRole('button', { name: 'Replay execution' }).click();
  await expect(page).not.toHaveURL(new RegExp(`${original}$`));
  await expect(page.getByText(`Replay of ${original}`)).toBeVisible();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SUCCESS', { timeout: 30_000 });
});

test('a failed Databricks job run is repaired from its page: only the failed task runs again, in the same run', async ({ page }) => {
  const script = Buffer.from("print('job')\n").toString('base64');
  await databricks(emulator, 'POST', '/api/2.0/dbfs/put', JSON.stringify({ path: '/e2e/job.py', contents: script, overwrite: true }));
  await postFlow(
    server.url,
    [
      'id: job_repair', 'namespace: e2e', 'tasks:',
      '  - id: submit', '    type: io.kestra.plugin.databricks.job.SubmitRun', '    waitForCompletion: PT5M', '    runTasks:',
      '      - taskKey: first', '        notebookTask:', '          notebookPath: /Shared/mortar-examples/aggregate',
      '      - taskKey: flaky', '        dependsOn: [first]', '        sparkPythonTask:', '          pythonFile: dbfs:/e2e/job.py',
      '          sparkPythonTaskSource: WORKSPACE', '          parameters: ["--emulator_fail_once=boom"]', '',
    ].join('\n'),
  );
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('row').filter({ hasText: 'job_repair' }).getByRole('button', { name: 'Execute' }).click();
  await page.getByRole('dialog', { name: /Execute job_repair/ }).getByRole('button', { name: 'Execute' }).click();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('FAILED', { timeout: 30_000 });
  await expect(page.getByText('flaky: FAILED: Exception: boom')).toBeVisible();
  const id = page.url().split('/').pop()!;
  const before = await (await authFetch(`${server.url}/api/v1/executions/${id}`)).json();
  const runId = before.taskRunList[0].outputs?.runId ?? null;

  await page.getByRole('button', { name: 'Repair' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SUCCESS', { timeout: 30_000 });
  const taskRow = page.getByRole('region', { name: 'Task runs' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'submit' }) });
  await expect(taskRow.locator('ol.attempts > li')).toHaveCount(2); // the same task run, a second attempt
  const after = await (await authFetch(`${server.url}/api/v1/executions/${id}`)).json();
  const repairedRun = after.taskRunList[0].outputs.runId;
  if (runId !== null) expect(repairedRun).toBe(runId);
  const run = await databricks(emulator, 'GET', `/api/2.2/jobs/runs/get?run_id=${repairedRun}`);
  const repairs = run.repair_history.filter((h: any) => h.type === 'REPAIR');
  expect(repairs).toHaveLength(1);
  expect(repairs[0].task_run_ids).toHaveLength(1); // only the failed task
  await page.screenshot({ path: path.join(artifacts, 'repaired.png'), fullPage: true });
});

test('a paused execution is resumed from its page with the inputs its Pause asks for', async ({ page }) => {
  await postFlow(
    server.url,
    [
      'id: approval_e2e',
      'namespace: company.team',
      'tasks:',
      '  - id: approve',
      '    type: io.kestra.plugin.core.flow.Pause',
      '    onResume:',
      '      - id: approved',
      '        type: BOOLEAN',
      '        defaults: true',
      '      - id: reason',
      '        displayName: Why',
      '        type: STRING',
      '  - id: after',
      '    type: io.kestra.plugin.core.debug.Return',
      '    format: "{{ outputs.approve.onResume.approved }}: {{ outputs.approve.onResume.reason }}"',
      '',
    ].join('\n'),
  );
  const started = await (await authFetch(`${server.url}/api/v1/executions/company.team/approval_e2e`, { method: 'POST' })).json();
  await page.goto(`${server.url}/executions/${started.id}`);
  await hydrated(page);
  await expect(page.getByText('PAUSED').first()).toBeVisible();
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Resume' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('approved')).toHaveValue('true');
  await dialog.getByLabel('approved').selectOption('false');
  await dialog.getByLabel(/Why/).fill('not this week');
  await page.screenshot({ path: path.join(artifacts, 'resume-dialog.png'), fullPage: true });
  await dialog.getByRole('button', { name: 'Resume execution' }).click();
  await expect(page.getByText('SUCCESS').first()).toBeVisible({ timeout: 15000 });
  const runs = await (await authFetch(`${server.url}/api/v1/executions/${started.id}`)).json();
  const after = runs.taskRunList.find((r: any) => r.taskId === 'after');
  expect(after.outputs.value).toBe('false: not this week');
  // A second resume is refused: it is no longer paused.
  const again = await authFetch(`${server.url}/api/v1/executions/${started.id}/resume`, { method: 'POST' });
  expect(again.status).toBe(409);
});

test('the executions list filters, sorts and pages on the server, without JavaScript too', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await logIn(context, server.url);
  const page = await context.newPage();
  await page.goto(`${server.url}/executions?state=FAILED`);
  await expect(page.getByRole('row').filter({ hasText: 'long_job' })).toHaveCount(0);
  await page.goto(`${server.url}/executions?q=needs`);
  // The restarted execution and its replay.
  await expect(page.getByRole('row').filter({ hasText: 'needs_file' })).toHaveCount(2);
  await expect(page.getByRole('row').filter({ hasText: 'long_job' })).toHaveCount(0);
  await page.goto(`${server.url}/executions?label=team:e2e`);
  await expect(page.getByRole('row').filter({ hasText: 'databricks_upload_query' })).toHaveCount(1);
  await page.goto(`${server.url}/executions`);
  await page.getByRole('link', { name: 'Flow', exact: true }).click();
  await expect(page).toHaveURL(/sort=flow&dir=desc/);
  await expect(page.getByRole('row').nth(1)).toContainText('needs_file');
  await page.getByLabel('State').selectOption('KILLED');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'long_job' })).toHaveCount(1);
  await expect(page.getByRole('row')).toHaveCount(2);
  await context.close();

  // Hydrated, the same form filters without a reload.
  const liveContext = await browser.newContext();
  await logIn(liveContext, server.url);
  const live = await liveContext.newPage();
  await live.goto(`${server.url}/executions`);
  await hydrated(live);
  await live.evaluate(() => ((window as any).__sameDocument = true));
  await live.getByRole('searchbox', { name: 'Search' }).fill('needs');
  await live.getByRole('searchbox', { name: 'Search' }).press('Enter');
  await expect(live).toHaveURL(/q=needs/);
  await expect(live.getByRole('row').filter({ hasText: 'long_job' })).toHaveCount(0);
  await expect(live.getByRole('row').filter({ hasText: 'needs_file' })).toHaveCount(2);
  expect(await live.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await liveContext.close();
});

test('the dashboard draws executions by state', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await expect(page.getByRole('img', { name: /Executions per day/ })).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
});

test('the Execute form checks JSON as you type and shows the server verdict next to the field', async ({ page }) => {
  await postFlow(
    server.url,
    [
      'id: typed_inputs',
      'namespace: e2e',
      'inputs:',
      '  - id: count',
      '    type: INT',
      '  - id: mode',
      '    type: SELECT',
      '    values: [fast, slow]',
      '    defaults: slow',
      '  - id: dry_run',
      '    type: BOOLEAN',
      '    defaults: true',
      '  - id: wait',
      '    type: DURATION',
      '    defaults: PT1S',
      '  - id: config',
      '    type: JSON',
      '    required: false',
      'tasks:',
      '  - id: show',
      '    type: io.kestra.plugin.core.log.Log',
      '    message: "{{ inputs.count }} {{ inputs.mode }} {{ inputs.dry_run }}"',
      '',
    ].join('\n'),
  );
  await page.goto(`${server.url}/flows`);
  await hydrated(page);
  await page.getByRole('row').filter({ hasText: 'typed_inputs' }).getByRole('button', { name: 'Execute' }).click();
  const dialog = page.getByRole('dialog', { name: /Execute typed_inputs/ });
  await expect(dialog.getByLabel(/mode/)).toHaveValue('slow');
  await expect(dialog.getByRole('switch', { name: /dry_run/ })).toBeChecked();
  await dialog.getByLabel(/config/).fill('{"a": ');
  await expect(dialog.getByText(/not valid JSON/)).toBeVisible();
  await dialog.getByLabel(/config/).fill('{"a": 1}');
  await expect(dialog.getByText(/not valid JSON/)).toHaveCount(0);
  // Escape closes the dialog; it opens again from the keyboard.
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await page.getByRole('row').filter({ hasText: 'typed_inputs' }).getByRole('button', { name: 'Execute' }).focus();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeVisible();
  await dialog.getByLabel(/count/).fill('12');
  await dialog.getByLabel(/mode/).selectOption('fast');
  await dialog.getByRole('switch', { name: /dry_run/ }).uncheck();
  // The browser cannot check a duration; the server does, and its verdict
  // shows next to the field.
  await dialog.getByLabel(/wait/).fill('soon');
  await dialog.getByRole('button', { name: 'Execute' }).click();
  await expect(dialog.getByLabel(/wait/)).toHaveAttribute('aria-invalid', 'true');
  await expect(dialog.locator('.field').filter({ hasText: 'wait' }).getByRole('alert')).toContainText('soon');
  await dialog.getByLabel(/wait/).fill('PT1S');
  await dialog.getByRole('button', { name: 'Execute' }).click();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  // Booleans print as Kestra prints them.
  await expect(page.getByRole('log', { name: 'Log lines' })).toContainText('12 fast false');
});

test('dynamic inputs: a choice changes the choices of the input that depends on it, and a hidden input appears', async ({ page }) => {
  await postFlow(
    server.url,
    [
      'id: dynamic_inputs',
      'namespace: e2e',
      'inputs:',
      '  - id: provider',
      '    type: SELECT',
      '    values: [AWS, GCP]',
      '    defaults: AWS',
      '  - id: vm',
      '    type: SELECT',
      '    expression: "{{ inputs.provider == \'AWS\' ? [\'t3.micro\', \'m5.large\'] : [\'e2-small\'] }}"',
      '    dependsOn:',
      '      inputs: [provider]',
      '  - id: gpu',
      '    type: STRING',
      '    defaults: "{{ inputs.provider | lower }}-gpu"',
      '    dependsOn:',
      '      inputs: [provider]',
      '      condition: "{{ inputs.provider == \'GCP\' }}"',
      'tasks:',
      '  - id: show',
      '    type: io.kestra.plugin.core.log.Log',
      '    message: "{{ inputs.provider }} {{ inputs.vm }} {{ inputs.gpu ?? \'none\' }}"',
      '',
    ].join('\n'),
  );
  await page.goto(`${server.url}/flows/e2e/dynamic_inputs`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Execute' }).click();
  const dialog = page.getByRole('dialog', { name: /Execute dynamic_inputs/ });
  const vm = dialog.getByLabel('vm');
  await expect(vm.locator('option')).toHaveText(['t3.micro', 'm5.large']);
  await expect(dialog.getByLabel('gpu')).toHaveCount(0);
  await dialog.getByLabel('provider').selectOption('GCP');
  await expect(vm.locator('option')).toHaveText(['e2-small']);
  await expect(dialog.getByLabel('gpu')).toHaveValue('gcp-gpu');
  await dialog.getByRole('button', { name: 'Execute' }).click();
  await expect(page).toHaveURL(/\/executions\/[\w-]+$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SUCCESS', { timeout: 30_000 });
  await expect(page.getByRole('log', { name: 'Log lines' })).toContainText('GCP e2-small gcp-gpu');
});

test('the logs survive a dropped connection: no line lost or doubled', async ({ page }) => {
  await postFlow(server.url, readFileSync(path.join(repoRoot, 'blueprints', 'hello_world.yml'), 'utf8'));
  const started = await authFetch(`${server.url}/api/v1/executions/tutorial/hello_world?wait=true`, { method: 'POST' });
  const execution = await started.json();
  expect(execution.state.current).toBe('SUCCESS');
  const all: { message: string }[] = await (await authFetch(`${server.url}/api/v1/logs/${execution.id}`)).json();
  expect(all.length).toBeGreaterThan(2);

  // The first connection gets the first two lines, as the server sent them,
  // and then drops; the browser's own reconnection goes through untouched.
  let connections = 0;
  await page.route('**/api/v1/logs/*/follow*', async (route) => {
    connections += 1;
    if (connections > 1) {
      return route.continue();
    }
    const response = await authFetch(route.request().url());
    const reader = response.body!.getReader();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < 2) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const firstTwo = text.split('\n\n').slice(0, 2).join('\n\n') + '\n\n';
    await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: firstTwo });
  });
  await page.goto(`${server.url}/executions/${execution.id}`);
  await hydrated(page);
  const lines = page.getByRole('log', { name: 'Log lines' }).locator('.log-line');
  await expect(lines).toHaveCount(all.length, { timeout: 30_000 });
  expect(connections).toBeGreaterThan(1);
  // Here Chromium gives up on the intercepted stream (its next request has
  // no Last-Event-ID), so this drives the page's own reconnection, which
  // starts over and drops the lines it already has by their ids. When the
  // browser reconnects by itself, the server resumes after Last-Event-ID.
  for (const line of all) {
    await expect(lines.filter({ hasText: line.message })).toHaveCount(1);
  }
  // Still whole a moment later: nothing came twice.
  await expect(page.getByRole('status').filter({ hasText: 'lines' })).toContainText(`${all.length} of ${all.length} lines`);
});

test('an execution with more task runs than a page shows them a page at a time', async ({ page }) => {
  await postFlow(
    server.url,
    'id: many_runs\nnamespace: company.team\ntasks:\n  - id: each\n    type: flow.ForEach\n    values: "{{ range(1, 450) }}"\n    concurrencyLimit: 0\n    tasks:\n      - id: step\n        type: debug.Return\n        format: "{{ taskrun.value }}"\n',
  );
  const started = await authFetch(`${server.url}/api/v1/executions/company.team/many_runs?wait=true`, { method: 'POST' });
  const id = (await started.json()).id;
  await page.goto(`${server.url}/executions/${id}`);
  await hydrated(page);
  const pager = page.getByRole('navigation', { name: 'Task run pages' });
  await expect(pager.getByRole('status')).toHaveText('Task runs 1–200 of 451');
  const rows = page.locator('table.task-runs tbody tr');
  await expect(rows).toHaveCount(200);
  await expect(pager.getByRole('button', { name: 'Previous' })).toBeDisabled();
  await pager.getByRole('button', { name: 'Next' }).click();
  await expect(pager.getByRole('status')).toHaveText('Task runs 201–400 of 451');
  await pager.getByRole('button', { name: 'Next' }).click();
  await expect(pager.getByRole('status')).toHaveText('Task runs 401–451 of 451');
  await expect(rows).toHaveCount(51);
  await expect(pager.getByRole('button', { name: 'Next' })).toBeDisabled();
  // The topology still knows every task's state.
  await expect(page.locator('.topology-node[data-task-id="step"]')).toContainText('SUCCESS');
});

test('a page on another site cannot save a flow or start an execution through the browser', async ({ page }) => {
  const source = 'id: planted_e2e\nnamespace: company.team\ntasks:\n  - id: t\n    type: log.Log\n    message: planted\n';
  // A hostile page (here about:blank, an opaque origin) posts forms to Mortar.
  await page.goto('about:blank');
  await page.setContent(
    `<form id="save" method="post" action="${server.url}/rpc/save_flow_source">` +
      `<input name="namespace" value=""><input name="id" value=""><textarea name="source"></textarea></form>`,
  );
  await page.locator('textarea').fill(source);
  await Promise.all([page.waitForURL(`${server.url}/rpc/save_flow_source`), page.locator('#save').evaluate((f: HTMLFormElement) => f.submit())]);
  await expect(page.locator('body')).toContainText('another site');
  expect((await authFetch(`${server.url}/api/v1/flows/company.team/planted_e2e`)).status).toBe(404);

  await postFlow(server.url, source);
  // Back on a page of no site (setContent keeps the page's origin).
  await page.goto('about:blank');
  await page.setContent(`<form id="run" method="post" action="${server.url}/api/v1/executions/company.team/planted_e2e"></form>`);
  await Promise.all([page.waitForURL(/planted_e2e$/), page.locator('#run').evaluate((f: HTMLFormElement) => f.submit())]);
  await expect(page.locator('body')).toContainText('another site');
  const executions = await (await authFetch(`${server.url}/api/v1/executions/search?namespace=company.team&flowId=planted_e2e`)).json();
  expect(executions.total).toBe(0);
});

test('the metrics a flow publishes appear on its execution page as the task ends', async ({ page }) => {
  await postFlow(
    server.url,
    [
      'id: metrics_e2e',
      'namespace: company.team',
      'tasks:',
      '  - id: wait',
      '    type: io.kestra.plugin.core.flow.Sleep',
      '    duration: PT2S',
      '  - id: publish',
      '    type: io.kestra.plugin.core.metric.Publish',
      '    metrics:',
      '      - type: counter',
      '        name: rows_loaded',
      '        value: 1234',
      '        tags:',
      '          flow: "{{ flow.id }}"',
      '      - type: timer',
      '        name: load_time',
      '        value: PT1.5S',
      '',
    ].join('\n'),
  );
  const started = await (await authFetch(`${server.url}/api/v1/executions/company.team/metrics_e2e`, { method: 'POST' })).json();
  await page.goto(`${server.url}/executions/${started.id}`);
  await hydrated(page);
  const section = page.getByRole('region', { name: 'Metrics' });
  await expect(section.getByText('No metrics.')).toBeVisible();
  await expect(page.getByText('SUCCESS').first()).toBeVisible({ timeout: 15000 });
  const rows = section.getByRole('row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('rows_loaded');
  await expect(rows.nth(1)).toContainText('1234');
  await expect(rows.nth(1)).toContainText('flow=metrics_e2e');
  await expect(rows.nth(2)).toContainText('load_time');
  await expect(rows.nth(2)).toContainText('timer');
  await page.screenshot({ path: path.join(artifacts, 'execution-metrics.png'), fullPage: true });
});

test('a Python script task streams its lines into the logs and its outputs show on the page', async ({ page }) => {
  await postFlow(
    server.url,
    [
      'id: script_e2e',
      'namespace: company.team',
      'tasks:',
      '  - id: py',
      '    type: io.kestra.plugin.scripts.python.Script',
      '    script: |',
      '      import time',
      '      from kestra import Kestra',
      '      print("preparing the file")',
      '      time.sleep(1)',
      '      Kestra.outputs({"rows": 42})',
      '  - id: after',
      '    type: io.kestra.plugin.core.debug.Return',
      '    format: "{{ outputs.py.vars.rows }} rows"',
      '',
    ].join('\n'),
  );
  const started = await (await authFetch(`${server.url}/api/v1/executions/company.team/script_e2e`, { method: 'POST' })).json();
  await page.goto(`${server.url}/executions/${started.id}`);
  await hydrated(page);
  await expect(page.getByText('preparing the file')).toBeVisible({ timeout: 15000 });
  await expect(page.getByText('SUCCESS').first()).toBeVisible({ timeout: 15000 });
  const outputs = page.getByRole('region', { name: 'Outputs' });
  await expect(outputs.getByRole('article', { name: 'Outputs of after' })).toBeVisible();
  const ended = await (await authFetch(`${server.url}/api/v1/executions/${started.id}`)).json();
  expect(ended.taskRunList.find((r: any) => r.taskId === 'after').outputs.value).toBe('42 rows');
});
