/**
 * What the benchmark scripts share: the node under test in a process of its own on a
 * fresh database, resident-set sampling of that process, and order statistics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const root = fileURLToPath(new URL('..', import.meta.url));

export const ADMIN_URL =
  process.env.OCP_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type Backend = 'postgres' | 'pglite';

export function parseBackend(raw: string | undefined): Backend {
  if (raw === 'postgres' || raw === 'pglite') return raw;
  throw new Error(`--backend must be postgres or pglite, not ${String(raw)}`);
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The nearest-rank percentile `p` (0–100) of `values`. */
export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
};

export const machine = () => ({
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
});

/** Starts `node <command>` and resolves with the URL it prints as "listening on …". */
export function startProcess(
  command: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, command, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /listening (?:on )?(http:\/\/\S+)/.exec(buffer);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}`)));
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * A fresh store for one benchmark: a new database on ADMIN_URL's server (PostgreSQL) or
 * a temporary data directory (PGlite); `env` points a node at it, `drop` removes it.
 */
export async function freshStore(backend: Backend): Promise<{
  env: Record<string, string>;
  databaseUrl: string | null;
  drop: () => Promise<void>;
}> {
  if (backend === 'pglite') {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ocp-bench-'));
    return {
      env: { OCP_DATA_DIR: dataDir },
      databaseUrl: null,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `ocp_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    env: { OCP_DATABASE_URL: url.toString() },
    databaseUrl: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Samples the resident set size of a process (Linux /proc) so every scenario can report
 * its peak next to the 300 MB budget.
 */
export function rssSampler(pid: number) {
  let peak = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, Math.round(kb / 1024));
    } catch {
      // The process has exited, or this is not Linux: no figure.
    }
  };
  const timer = setInterval(read, 200);
  timer.unref();
  return {
    /** Peak RSS in MB since the last call, then starts a new window. */
    take(): number | undefined {
      read();
      const value = peak;
      peak = 0;
      return value === 0 ? undefined : value;
    },
    stop: () => clearInterval(timer),
  };
}

/** Runs `measure` `n` times one after the other and returns the results in order. */
export async function sequence<T>(n: number, measure: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < n; i++) results.push(await measure());
  return results;
}
