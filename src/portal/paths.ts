/** Where the portal's sources and build live (shared by the build and the feature). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const uiDir = path.join(here, 'ui');
export const distDir = path.join(here, 'dist');
export const taxonomyFile = path.join(here, '..', 'register', 'dtpr', 'taxonomy.json');
