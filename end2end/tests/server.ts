// Starts a real `mortar serve` on port 0 with a fresh data dir, and stops it.
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import type { BrowserContext } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface Server {
  url: string;
  stop(): Promise<void>;
}

/// The admin every test server has (made with `mortar users add`, as a
/// script would), and what the API calls below send: basic auth, as
/// Kestra's clients do.
export const ADMIN = { user: 'admin', password: 'correct horse battery' };
const basic = 'Basic ' + Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64');

/// `fetch` with the admin's credentials, for calls to Mortar's API.
export function authFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', basic);
  return fetch(url, { ...init, headers });
}

/// Logs `user` in through the login form, as a browser does, and gives the
/// session's cookie to `context`, so that its pages open logged in.
export async function logIn(context: BrowserContext, url: string, user = ADMIN.user, password = ADMIN.password): Promise<void> {
  const response = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user, password, next: '/' }).toString(),
    redirect: 'manual',
  });
  const cookie = response.headers.get('set-cookie');
  if (response.status !== 303 || !cookie) {
    throw new Error(`logging in as ${user}: ${response.status} ${await response.text()}`);
  }
  const [name, value] = cookie.split(';')[0].split('=');
  await context.addCookies([{ name, value, url }]);
}

/// `mortar users add NAME --role ROLE --password-stdin` on `dataDir`.
export function addUser(dataDir: string, name: string, role: string, password: string): void {
  const bin = process.env.MORTAR_BIN ?? path.join(repoRoot, 'target', 'debug', 'mortar');
  const result = spawnSync(bin, ['users', 'add', name, '--role', role, '--password-stdin', '--data-dir', dataDir], { input: `${password}\n` });
  if (result.status !== 0) {
    throw new Error(`mortar users add ${name}: ${result.stderr}`);
  }
}

const repoRoot = path.resolve(__dirname, '..', '..');

/// Spawns `mortar ARGS...`, waits for its `listening on URL` line and
/// returns the URL and a stop that ends it (SIGTERM) and then runs
/// `cleanup`. `env` is added to its environment.
export async function spawnMortar(args: string[], env: Record<string, string> = {}, cleanup: () => void = () => {}): Promise<Server> {
  const bin = process.env.MORTAR_BIN ?? path.join(repoRoot, 'target', 'debug', 'mortar');
  const child: ChildProcess = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`mortar ${args[0]} did not start in 30 s\n${stderr}`)), 30_000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk.toString();
      const match = stdout.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mortar ${args[0]} exited with ${code} before serving\n${stderr}`));
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      cleanup();
    },
  };
}

/// `mortar serve` with a fresh data dir. `env` is added to its environment
/// (for example `MORTAR_EMULATOR_TIME_SCALE`, or `DATABRICKS_HOST` and
/// `DATABRICKS_TOKEN`).
export async function startServer(env: Record<string, string> = {}): Promise<Server & { dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mortar-e2e-'));
  addUser(dataDir, ADMIN.user, 'admin', ADMIN.password);
  const server = await spawnMortar(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], env, () =>
    rmSync(dataDir, { recursive: true, force: true }),
  );
  return { ...server, dataDir };
}

/// Stores a flow through the REST API, as a user's script would.
export async function postFlow(url: string, yaml: string): Promise<void> {
  const response = await authFetch(`${url}/api/v1/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-yaml' },
    body: yaml,
  });
  if (!response.ok) {
    throw new Error(`POST /api/v1/flows: ${response.status} ${await response.text()}`);
  }
}
