/**
 * The public portal: a single-page application built by Vite (see build.ts) and served by
 * the node. Only the portal's own page paths answer with the application; everything else
 * (the APIs, /ledger, /auth, …) keeps its own routes and its own problem+json 404s. The
 * page is sent with `<html lang>` already set from `?lang=` or Accept-Language, so the
 * first paint and assistive technology get the right language before any script runs.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Type } from 'typebox';
import { notFound, unavailable } from '../platform/http/errors.js';
import type { App, Feature } from '../platform/http/server.js';
import { distDir } from './paths.js';
import { pickLanguage } from './language.js';

/** Every page of the portal, as Fastify paths. Stable and shareable. */
export const portalPages = [
  '/',
  '/datasets',
  '/datasets/:id',
  '/technologies',
  '/technologies/:id',
  '/technologies/:id/sign',
  '/algorithms',
  '/algorithms/:id',
  '/consultations',
  '/consultations/:id',
  '/transparency',
  '/console',
  '/console/steward',
  '/console/steward/datasets/:id',
  '/console/steward/register',
  '/console/steward/consultations',
] as const;

const ASSET_PREFIX = '/_portal/';
const ASSET_NAME = /^[A-Za-z0-9._-]{1,200}$/;
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** No inline script or style, nothing from other origins. */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Bundle {
  index: string;
  assets: Map<string, Buffer>;
}

function loadBundle(): Bundle | null {
  const indexFile = path.join(distDir, 'index.html');
  if (!existsSync(indexFile)) return null;
  const assets = new Map<string, Buffer>();
  const assetDir = path.join(distDir, ASSET_PREFIX.slice(1, -1));
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      assets.set(name, readFileSync(path.join(assetDir, name)));
    }
  }
  return { index: readFileSync(indexFile, 'utf8'), assets };
}

const LangQuery = Type.Object({
  lang: Type.Optional(Type.String({ maxLength: 8 })),
});

export const portalFeature: Feature = {
  name: 'portal',
  register(app: App) {
    // Read once: the bundle is immutable between builds, and a rebuild means a restart.
    let bundle = loadBundle();
    const current = () => (bundle ??= loadBundle());

    for (const url of portalPages) {
      app.get(
        url,
        {
          schema: { hide: true, querystring: LangQuery },
          config: { access: 'public' },
        },
        async (request, reply) => {
          const loaded = current();
          if (!loaded) {
            throw unavailable('The portal has not been built: run `npm run build:portal`');
          }
          const lang = pickLanguage(request.query.lang, request.headers['accept-language']);
          reply
            .header('Content-Type', 'text/html; charset=utf-8')
            .header('Content-Language', lang)
            .header('Vary', 'Accept-Language')
            .header('Cache-Control', 'no-cache')
            .header('Content-Security-Policy', PAGE_CSP)
            .header('X-Content-Type-Options', 'nosniff')
            .header('Referrer-Policy', 'same-origin');
          return loaded.index.replace(/<html lang="[a-z]+"/, `<html lang="${lang}"`);
        },
      );
    }

    app.get(
      `${ASSET_PREFIX}:name`,
      {
        schema: { hide: true, params: Type.Object({ name: Type.String({ maxLength: 200 }) }) },
        config: { access: 'public' },
      },
      async (request, reply) => {
        const { name } = request.params;
        const body = ASSET_NAME.test(name) ? current()?.assets.get(name) : undefined;
        if (!body) throw notFound();
        reply
          .header('Content-Type', CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream')
          // File names carry a content hash: a changed file is a new URL.
          .header('Cache-Control', 'public, max-age=31536000, immutable')
          .header('X-Content-Type-Options', 'nosniff');
        return body;
      },
    );
  },
};
