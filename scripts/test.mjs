#!/usr/bin/env node
// Runs every *.test.ts under src/ (or the files/folders given) with Node's built-in test
// runner and tsx. Node 20's runner does not expand globs itself, hence this script.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function collect(target, out) {
  if (statSync(target).isDirectory()) {
    for (const entry of readdirSync(target)) {
      if (entry === 'node_modules' || entry.startsWith('.')) continue;
      collect(path.join(target, entry), out);
    }
  } else if (target.endsWith('.test.ts')) {
    out.push(target);
  }
  return out;
}

const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : ['src']).flatMap((t) => collect(t, [])).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${process.env.OCP_TEST_CONCURRENCY ?? 2}`,
    // Node 20 applies this to each test file as a whole as well as to each test: a file
    // that spawns nodes (the command line, crash and outage tests) needs minutes on a
    // busy 2-core machine. A hung test still fails, after ten minutes.
    '--test-timeout=600000',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
