// Keystroke latency of the flow editor on a 2,000-line flow, in a real
// Chromium against a real `mortar serve`. Prints figures; asserts nothing.
//
//   MORTAR_BIN=$CARGO_TARGET_DIR/debug/mortar node end2end/bench/keystroke.mjs [keystrokes]
//
// For each keystroke: t0 is taken when the keydown reaches the document
// (before the editor sees it); t1 after the editor's input handler and every
// microtask it queued (Leptos' effects) have run and the layout is forced,
// that is once the highlighted lines, the problem marks and the problems
// panel are in the DOM. A MessageChannel message posted from the input
// event runs in the next task, after all of that.
import { chromium } from 'playwright';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.MORTAR_BIN ?? path.join(here, '..', '..', 'target', 'debug', 'mortar');
const keystrokes = Number(process.argv[2] ?? 200);

/** A flow of about 2,000 lines: inputs, plain tasks and a few flowables. */
function longFlow() {
  const lines = ['id: long_flow', 'namespace: bench', 'description: |', '  A long flow to measure the editor.', 'inputs:', '  - id: name', '    type: STRING', 'tasks:'];
  let i = 0;
  while (lines.length < 1990) {
    if (i % 20 === 19) {
      lines.push(`  - id: group_${i}`, '    type: io.kestra.plugin.core.flow.Parallel', '    tasks:',
        `      - id: inner_a_${i}`, '        type: io.kestra.plugin.core.log.Log', `        message: "a {{ outputs.task_${i - 1}.uri }}"`,
        `      - id: inner_b_${i}`, '        type: io.kestra.plugin.core.log.Log', '        message: b');
    } else {
      lines.push(`  - id: task_${i}`, '    type: io.kestra.plugin.core.log.Log', `    description: Step ${i} of the long flow`,
        `    message: "Step ${i} for {{ inputs.name }} in {{ execution.id }}"`, '    level: INFO', '    timeout: PT5M', '    allowFailure: false');
    }
    i++;
  }
  return lines.join('\n') + '\n';
}

async function startServer() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mortar-bench-'));
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`mortar exited with ${code}`)));
  });
  return { url, stop: () => { child.kill('SIGTERM'); rmSync(dataDir, { recursive: true, force: true }); } };
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
}

const server = await startServer();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const source = longFlow();
  const response = await fetch(`${server.url}/api/v1/flows`, { method: 'POST', headers: { 'Content-Type': 'application/x-yaml' }, body: source });
  if (!response.ok) throw new Error(`POST /api/v1/flows: ${response.status} ${await response.text()}`);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${server.url}/flows/bench/long_flow/editor`, { timeout: 120_000 });
  await page.waitForSelector('body[data-hydrated=true]');
  const lineCount = await page.evaluate(() => document.querySelectorAll('.editor-highlight code > div').length);
  await page.evaluate(instrument);
  await typeAndMeasure(page, 'textarea.editor-input');
  const latencies = await page.evaluate(() => window.__latencies);
  const parts = await page.evaluate(() => window.__parts);
  const s = stats(latencies.slice(5));
  console.log(`flow: ${lineCount} lines, ${source.length} characters`);
  console.log(`keystrokes measured: ${s.n} (after 5 warm-up)`);
  console.log(`keystroke to highlighted and validated DOM: median ${s.median.toFixed(2)} ms, p95 ${s.p95.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`);
  const names = ['keydown to input event (the browser edits the textarea)', 'input handlers and their effects (highlight, validate, marks)', 'style and layout',
    '  of which the editor\'s input handler', '    of which highlighting the changed lines', '    of which engine::flow::parse (validation)'];
  names.forEach((name, k) => {
    const p = stats(parts.slice(5).map((x) => x[k]));
    console.log(`  ${name}: median ${p.median.toFixed(2)} ms, p95 ${p.p95.toFixed(2)} ms`);
  });

  await page.waitForFunction((n) => window.__frames.length >= n, keystrokes);
  const frames = (await page.evaluate(() => window.__frames)).slice(5);
  const f0 = stats(frames.map((x) => x[0]));
  const f1 = stats(frames.map((x) => x[1]));
  const f2 = stats(frames.map((x) => x[2]));
  console.log(`keystroke to the painted frame: median ${f2.median.toFixed(2)} ms, p95 ${f2.p95.toFixed(2)} ms (frame start ${f0.median.toFixed(2)} ms, its style, layout and paint ${f1.median.toFixed(2)} ms, medians)`);

  // The floor: the same text in a bare textarea, nothing listening but the probe.
  const bare = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await bare.setContent('<textarea wrap="off" style="width: 800px; height: 600px; font: 13px monospace"></textarea>');
  await bare.evaluate((text) => { document.querySelector('textarea').value = text; }, source);
  await bare.evaluate(instrument);
  await typeAndMeasure(bare, 'textarea');
  const b = stats((await bare.evaluate(() => window.__latencies)).slice(5));
  await bare.waitForFunction((n) => window.__frames.length >= n, keystrokes);
  const bf = stats((await bare.evaluate(() => window.__frames)).slice(5).map((x) => x[2]));
  console.log(`baseline, a bare textarea with the same text: median ${b.median.toFixed(2)} ms, p95 ${b.p95.toFixed(2)} ms; to the painted frame: median ${bf.median.toFixed(2)} ms, p95 ${bf.p95.toFixed(2)} ms`);
} finally {
  await browser.close();
  server.stop();
}

/** Runs in the page: timestamps each keystroke's keydown and the task after its input event. */
function instrument() {
    window.__latencies = [];
    window.__parts = [];
    window.__frames = [];
    document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
    document.addEventListener('input', () => {
      const tInput = performance.now();
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        const tHandled = performance.now();
        void document.body.offsetHeight;
        const t1 = performance.now();
        window.__latencies.push(t1 - window.__t0);
        const editor = document.querySelector('.editor');
        if (editor) window.__parts.push([tInput - window.__t0, tHandled - tInput, t1 - tHandled,
          Number(editor.dataset.inputMs), Number(editor.dataset.highlightMs), Number(editor.dataset.validateMs)]);
      };
      channel.port2.postMessage(0);
      // The frame that shows the keystroke: its start, and the task after
      // its style, layout and paint.
      const t0 = window.__t0;
      requestAnimationFrame(() => {
        const tFrame = performance.now();
        const after = new MessageChannel();
        after.port1.onmessage = () => window.__frames.push([tFrame - t0, performance.now() - tFrame, performance.now() - t0]);
        after.port2.postMessage(0);
      });
    }, true);
}

/** Types and deletes in the middle of the flow, one keystroke at a time. */
async function typeAndMeasure(page, selector) {
  // The caret in the middle of the flow, at the end of a message.
  await page.locator(selector).focus();
  await page.evaluate(() => {
    const area = document.querySelector('textarea');
    const at = area.value.indexOf('message: "Step 140 ');
    const end = area.value.indexOf('\n', at) - 1;
    area.setSelectionRange(end, end);
  });
  const text = 'and then some more words typed ';
  for (let i = 0; i < keystrokes; i++) {
    // Type, then delete again, so the flow keeps its size; every fifth
    // keystroke breaks the YAML (a quote) and the next one mends it.
    const key = i % 2 === 1 ? 'Backspace' : i % 10 === 4 ? '"' : text[(i / 2) % text.length];
    await page.keyboard.press(key === ' ' ? 'Space' : key);
    await page.waitForFunction((n) => window.__latencies.length >= n, i + 1);
  }
}
