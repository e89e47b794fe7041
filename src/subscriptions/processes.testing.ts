/** Test helpers: nodes as child processes sharing one storage. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase, type Backend } from '../platform/testing/database.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = path.join(root, 'src', 'subscriptions', 'child-node.testing.ts');

export interface Child {
  process: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** `env` must carry PATH (and HOME); nothing else of the caller's environment leaks in. */
export async function startChild(env: Record<string, string | undefined>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: {
      OCP_LOG_LEVEL: 'warn',
      OCP_PORT: '0',
      OCP_MQTT_URL: 'none',
      OCP_ANONYMOUS_ROLE: 'admin',
      OCP_FETCH_ALLOW_PRIVATE: 'true',
      OCP_NOTIFY_RETRY_BASE_MS: '100',
      OCP_NOTIFY_RETRY_MAX_MS: '300',
      OCP_NOTIFY_POLL_MS: '100',
      OCP_RATE_LIMIT: 'off',
      ...env,
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
  }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((r) =>
      reject(new Error(`node exited (${r.code}) before listening: ${r.stderr}`)),
    );
  });
  return { process: child, url, exited };
}

export async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) {
    child.process.kill('SIGTERM');
  }
  await child.exited;
}

export const post = (base: string, url: string, body: unknown) =>
  fetch(`${base}/ngsi-ld/v1${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** Storage both processes of a test share: a PostgreSQL database or a PGlite directory. */
export async function storage(
  backend: Backend,
): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (backend === 'postgres') {
    const created = await createPostgresDatabase();
    return { env: { OCP_DATABASE_URL: created.url }, drop: () => created.drop() };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'ocp-subscriptions-'));
  return { env: { OCP_DATA_DIR: dir }, drop: async () => undefined };
}
