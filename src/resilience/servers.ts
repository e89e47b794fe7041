/**
 * Throw-away servers for the resilience tests: a private PostgreSQL cluster and a private
 * Mosquitto broker (each on a free port, in a temp directory, stopped and removed by the
 * test), and `ocp start` as a child process. The outage tests stop and start these, never
 * the shared servers other tests use.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../platform/testing/ports.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const ocpBin = path.join(root, 'bin', 'ocp.js');

/** Polls `check` until it returns true, or throws after `timeoutMs`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ── PostgreSQL ─────────────────────────────────────────────────────────────────────────

function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : null;
}

const isRoot = () => process.getuid?.() === 0;

/** Why a private PostgreSQL cannot be started here, or null when it can. */
export function privatePostgresUnavailable(): string | null {
  if (!postgresBinDir()) return 'PostgreSQL server binaries (/usr/lib/postgresql/*/bin) not found';
  if (isRoot() && spawnSync('id', ['postgres']).status !== 0)
    return 'running as root and there is no "postgres" user to run initdb/pg_ctl as';
  return null;
}

export interface PrivatePostgres {
  port: number;
  /** URL of the `postgres` database on this cluster. */
  url: string;
  start(): void;
  /** `immediate` is a crash of the server (recovery from WAL at the next start). */
  stop(mode?: 'fast' | 'immediate'): void;
  destroy(): void;
}

/** initdb + pg_ctl in a temp directory, as the postgres user when we are root. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir()!;
  const dir = mkdtempSync(path.join(tmpdir(), 'ocp-resilience-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  if (isRoot()) {
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString());
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const command = path.join(bin, tool);
    const result = isRoot()
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { cwd: dir })
      : spawnSync(command, args, { cwd: dir });
    if (result.status !== 0)
      throw new Error(`${tool} failed: ${result.stderr.toString()}${result.stdout.toString()}`);
  };
  const destroy = () => {
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Not running.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    // Small and quick: the cluster lives for one test. fsync off is safe for what these
    // tests do (the server process stops, the machine does not).
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c shared_buffers=32MB',
      '-c max_connections=50',
    ].join(' ');
    const cluster: PrivatePostgres = {
      port,
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      start: () =>
        run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', options, 'start']),
      stop: (mode = 'fast') => run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']),
      destroy,
    };
    cluster.start();
    return cluster;
  } catch (error) {
    destroy();
    throw error;
  }
}

// ── Mosquitto ──────────────────────────────────────────────────────────────────────────

function mosquittoBin(): string | null {
  for (const candidate of [
    '/usr/sbin/mosquitto',
    '/usr/bin/mosquitto',
    '/usr/local/sbin/mosquitto',
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export function privateMosquittoUnavailable(): string | null {
  return mosquittoBin() ? null : 'mosquitto not found (/usr/sbin/mosquitto)';
}

export interface PrivateMosquitto {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateMosquitto(): Promise<PrivateMosquitto> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ocp-resilience-mqtt-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ''].join('\n'),
  );
  let child: ChildProcess | null = null;
  const broker: PrivateMosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      if (child) return;
      const proc = spawn(mosquittoBin()!, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr?.on('data', (chunk) => (stderr += chunk));
      child = proc;
      proc.once('exit', () => {
        if (child === proc) child = null;
      });
      await until(
        `mosquitto listening on ${port} (${stderr})`,
        () =>
          new Promise<boolean>((resolve) => {
            if (!child) return resolve(false);
            createConnectionTo(port, resolve);
          }),
        10_000,
      );
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    },
    async destroy() {
      await broker.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await broker.start();
    return broker;
  } catch (error) {
    await broker.destroy();
    throw error;
  }
}

function createConnectionTo(port: number, done: (ok: boolean) => void) {
  const socket = connect(port, '127.0.0.1');
  socket.once('connect', () => {
    socket.destroy();
    done(true);
  });
  socket.once('error', () => done(false));
  return socket;
}

// ── the node as a child process ────────────────────────────────────────────────────────

export interface ChildNode {
  url: string;
  process: ChildProcess;
  /** Everything the node wrote to stderr so far (its warnings and errors). */
  stderr(): string;
  /** Resolves with the exit code and signal (already exited: at once). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `ocp start` with only the given environment (nothing of the caller's OCP_* leaks in). */
export async function startChildNode(vars: Record<string, string>): Promise<ChildNode> {
  const child = spawn(process.execPath, [ocpBin, 'start'], {
    cwd: root,
    // The child needs nothing else: it is started by absolute path with this node binary.
    env: {
      OCP_PORT: '0',
      OCP_LOG_LEVEL: 'warn',
      OCP_RATE_LIMIT: 'off',
      OCP_ANONYMOUS_ROLE: 'admin',
      ...vars,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let alive = true;
  void exited.then(() => (alive = false));
  try {
    await until('node listening', () => /listening on http/.test(stdout) || !alive, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const match = /listening on (http:\/\/\S+)/.exec(stdout);
  if (!match) throw new Error(`node did not start:\n${stderr}`);
  return {
    url: match[1]!,
    process: child,
    stderr: () => stderr,
    exited,
    async kill(signal = 'SIGTERM') {
      if (alive) child.kill(signal);
      return exited;
    },
  };
}
