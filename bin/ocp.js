#!/usr/bin/env node
// The node runs from its TypeScript sources through tsx's loader (see
// docs/decisions/0002-run-typescript-with-tsx.md).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
