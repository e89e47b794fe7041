/**
 * Builds the portal's browser code (src/portal/ui) with Vite into src/portal/dist, which
 * the portal feature serves. Runs from `npm install`/`npm ci` (the `prepare` script) and
 * from tests; skips the build when the sources have not changed since the last one.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir, taxonomyFile, uiDir } from './paths.js';
const STAMP = '.source-hash';

function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const file = path.join(dir, entry);
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(path.relative(uiDir, file)).update('\0').update(readFileSync(file));
    }
  };
  walk(uiDir);
  // The register's DTPR taxonomy is bundled into the UI as well.
  hash.update(readFileSync(taxonomyFile));
  return hash.digest('hex');
}

/** True when dist holds a build of the current sources. */
export function portalIsBuilt(): boolean {
  const stamp = path.join(distDir, STAMP);
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === sourceHash();
}

export async function buildPortal(options: { force?: boolean } = {}): Promise<{ built: boolean }> {
  if (!options.force && portalIsBuilt()) return { built: false };
  const { build } = await import('vite');
  // Build next to dist and swap it in, so a node serving dist never sees half a build
  // and two builds at once do not write into the same directory.
  const staging = `${distDir}.${process.pid}.${Date.now()}.tmp`;
  await build({
    configFile: false,
    root: uiDir,
    base: '/',
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir: staging,
      emptyOutDir: true,
      assetsDir: '_portal',
      target: 'es2022',
      modulePreload: { polyfill: false },
      reportCompressedSize: false,
    },
  });
  writeFileSync(path.join(staging, STAMP), sourceHash());
  const old = `${distDir}.${process.pid}.old`;
  try {
    if (existsSync(distDir)) renameSync(distDir, old);
    renameSync(staging, distDir);
  } catch (error) {
    // Another process (a parallel test file) swapped in its build of the same sources.
    rmSync(staging, { recursive: true, force: true });
    if (!portalIsBuilt()) throw error;
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
  return { built: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  buildPortal({ force: process.argv.includes('--force') }).then(
    ({ built }) => {
      console.log(
        built
          ? `portal built into ${path.relative(process.cwd(), distDir)} in ${Date.now() - started} ms`
          : 'portal is up to date',
      );
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
