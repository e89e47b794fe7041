import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { variables } from './platform/config.js';
import { createPostgresDatabase, testDatabaseUrl } from './platform/testing/database.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ocpBin = path.join(root, 'bin', 'ocp.js');

/** A clean environment: only what the child needs, so the caller's OCP_* never leak in. */
function env(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, OCP_LOG_LEVEL: 'warn', ...vars };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], vars: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [ocpBin, ...args], { cwd: root, env: env(vars) });
  return collect(child);
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

/** Resolves with the first stdout line matching `pattern`. */
function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = pattern.exec(buffer);
      if (match) {
        child.stdout?.off('data', onData);
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`process exited (${code}) before printing ${pattern}`)),
    );
  });
}

async function freePortHeld(): Promise<{ port: number; release(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    release: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const embedded = (dataDir: string) => ({
  OCP_DATA_DIR: dataDir,
  OCP_PORT: '0',
  OCP_MQTT_PORT: '0',
});

describe('ocp command line', () => {
  it('prints its version and help', async () => {
    const version = await run(['version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^open-city-platform \d+\.\d+\.\d+/);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['start', 'migrate', 'version'])
      assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    for (const name of Object.keys(variables))
      assert.ok(help.stdout.includes(name), `${name} in --help`);
    const unknown = await run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('refuses bad configuration, naming every bad variable, before touching anything', async () => {
    const result = await run(['start'], { OCP_PORT: 'abc', OCP_DATABASE_URL: 'nope://' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /OCP_PORT: must be a whole number/);
    assert.match(result.stderr, /OCP_DATABASE_URL: must be "memory:" or a postgres/);
  });

  it('migrates an embedded data directory once', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ocp-cli-'));
    const first = await run(['migrate'], { OCP_DATA_DIR: dataDir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied 0001_platform/);
    const second = await run(['migrate'], { OCP_DATA_DIR: dataDir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /database is up to date/);
  });

  it('migrates a PostgreSQL database', { skip: !testDatabaseUrl }, async () => {
    const created = await createPostgresDatabase();
    try {
      const result = await run(['migrate'], { OCP_DATABASE_URL: created.url });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /applied 0001_platform/);
    } finally {
      await created.drop();
    }
  });

  it('starts on embedded defaults, serves /health and /ready, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ocp-cli-'));
    const child = spawn(process.execPath, [ocpBin, 'start'], {
      cwd: root,
      env: env(embedded(dataDir)),
    });
    const exited = collect(child);
    try {
      const [, url] = await waitForLine(child, /listening on (http:\/\/\S+)/);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      const ready = await fetch(`${url}/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, {
        database: { status: 'up' },
        mqtt: { status: 'up' },
      });

      // A second node on the same embedded data directory must refuse to start.
      const second = await run(['start'], embedded(dataDir));
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /data directory .* is in use by process \d+/);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr);
  });

  it('says which variable to set when the HTTP port is taken', async () => {
    const held = await freePortHeld();
    try {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'ocp-cli-'));
      const result = await run(['start'], { ...embedded(dataDir), OCP_PORT: String(held.port) });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`port ${held.port} is already in use: set OCP_PORT`));
    } finally {
      await held.release();
    }
  });

  it('finishes in-flight requests on SIGTERM and exits 0 within the shutdown timeout', async () => {
    const script = path.join(root, 'src', 'platform', 'testing', 'slow-node.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: root,
      env: env({ OCP_DATABASE_URL: 'memory:', OCP_PORT: '0', OCP_MQTT_URL: 'none' }),
    });
    const exited = collect(child);
    const [, url] = await waitForLine(child, /listening (http:\/\/\S+)/);
    const requests = [1, 2, 3].map(() =>
      fetch(`${url}/slow?ms=1500`).then(async (r) => [r.status, await r.json()]),
    );
    // All three handlers are running before the signal arrives.
    await waitForLine(child, /(started \S+\n[^]*){3}/);
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const responses = await Promise.all(requests);
    for (const [status, body] of responses) {
      assert.equal(status, 200);
      assert.match((body as { done: string }).done, /^req_/);
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(Date.now() - signalledAt < 10_000, 'exited within 10 s');
    await assert.rejects(fetch(`${url}/health`), 'no longer accepting connections');
  });
});
