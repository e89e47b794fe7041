/**
 * CKAN-compatible read API (/api/3/action/...), GET with query parameters or POST with a
 * JSON body, answering in CKAN's envelope: `{help, success: true, result}` or
 * `{help, success: false, error: {__type, message}}` with CKAN's status codes (400 unknown
 * action or bad input, 404 not found, 409 validation and search query errors). Every
 * error on these routes, including framework ones, is rendered that way so CKAN clients
 * can parse it.
 *
 * Non-CKAN parameter: `ext_scope=federation` on package_search (CKAN passes `ext_*`
 * parameters to extensions) searches the datasets harvested from peers as well.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import type { CatalogService } from './catalog.service.js';
import {
  CkanError,
  ROWS_DEFAULT,
  ROWS_MAX,
  ckanNotFound,
  ckanValidation,
  organizationDict,
  packageDict,
  search,
} from './ckan.js';

const ACTIONS = [
  'package_list',
  'package_show',
  'package_search',
  'organization_list',
  'organization_show',
] as const;
type Action = (typeof ACTIONS)[number];
const LIST_MAX = 1000;

type Params = Record<string, unknown>;

function str(p: Params, key: string, max = 1000): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return str({ [key]: v[0] }, key, max);
  const s =
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  if (s === null) throw ckanValidation({ [key]: ['Invalid value'] });
  if (s.length > max) throw ckanValidation({ [key]: [`Longer than ${max} characters`] });
  return s;
}

function int(p: Params, key: string, fallback: number, min: number): number {
  const s = str(p, key, 20);
  if (s === undefined || s === '') return fallback;
  if (!/^-?\d+$/.test(s.trim())) throw ckanValidation({ [key]: ['Invalid integer'] });
  const n = Number(s);
  if (n < min) throw ckanValidation({ [key]: [`Must be at least ${min}`] });
  return n;
}

function bool(p: Params, key: string): boolean {
  const s = str(p, key, 10);
  if (s === undefined) return false;
  if (/^(true|1|yes|on)$/i.test(s)) return true;
  if (/^(false|0|no|off|)$/i.test(s)) return false;
  throw ckanValidation({ [key]: ['Not a boolean'] });
}

function required(p: Params, key: string): string {
  const s = str(p, key, 300);
  if (s === undefined || s === '') throw ckanValidation({ [key]: ['Missing value'] });
  return s;
}

export function registerCkanRoutes(app: App, service: CatalogService): void {
  const base = service.settings.base;
  const help = (action: string) => `${base}/api/3/action/help_show?name=${action}`;

  const handlers: Record<Action, (request: FastifyRequest, p: Params) => Promise<unknown>> = {
    async package_list(request, p) {
      const limit = Math.min(int(p, 'limit', LIST_MAX, 0), LIST_MAX);
      const offset = int(p, 'offset', 0, 0);
      const names = (await service.entries(request.actor, false)).map((e) => e.name).sort();
      return names.slice(offset, offset + limit);
    },

    async package_show(request, p) {
      const id = required(p, 'id');
      const all = await service.entries(request.actor, true);
      const e = all.find((x) => (x.kind === 'local' && x.id === id) || x.name === id);
      if (!e) throw ckanNotFound();
      return packageDict(e);
    },

    async package_search(request, p) {
      const scope = str(p, 'ext_scope', 20);
      if (scope !== undefined && scope !== 'federation' && scope !== 'local') {
        throw ckanValidation({ ext_scope: ['Must be local or federation'] });
      }
      const rows = Math.min(int(p, 'rows', ROWS_DEFAULT, 0), ROWS_MAX);
      const start = int(p, 'start', 0, 0);
      const sort = str(p, 'sort', 200) || 'score desc, metadata_modified desc';
      const entries = await service.entries(request.actor, scope === 'federation');
      const { count, results } = search(entries, {
        q: str(p, 'q', 1000) ?? '',
        fq: str(p, 'fq', 2000) ?? '',
        sort,
        rows,
        start,
      });
      return { count, sort, facets: {}, search_facets: {}, results: results.map(packageDict) };
    },

    async organization_list(request, p) {
      const allFields = bool(p, 'all_fields');
      const limit = Math.min(int(p, 'limit', LIST_MAX, 0), LIST_MAX);
      const offset = int(p, 'offset', 0, 0);
      const sort = (str(p, 'sort', 50) ?? 'name asc').trim();
      const orgs = await service.organisations(request.actor);
      const m = /^(name|title|package_count)(?:\s+(asc|desc))?$/.exec(sort);
      if (!m) throw ckanValidation({ sort: ['Invalid sort'] });
      const dir = (m[2] ?? (m[1] === 'package_count' ? 'desc' : 'asc')) === 'asc' ? 1 : -1;
      const key = (o: (typeof orgs)[number]) =>
        m[1] === 'package_count' ? o.entries.length : m[1] === 'title' ? o.org.title : o.org.name;
      const sorted = [...orgs].sort((a, b) => {
        const x = key(a);
        const y = key(b);
        return (x < y ? -1 : x > y ? 1 : a.org.name.localeCompare(b.org.name)) * dir;
      });
      const page = sorted.slice(offset, offset + limit);
      return allFields
        ? page.map((o) => organizationDict(o.org, o.entries.length))
        : page.map((o) => o.org.name);
    },

    async organization_show(request, p) {
      const id = required(p, 'id');
      const orgs = await service.organisations(request.actor);
      const o = orgs.find((x) => x.org.id === id || x.org.name === id);
      if (!o) throw ckanNotFound();
      return {
        ...organizationDict(o.org, o.entries.length),
        ...(bool(p, 'include_datasets')
          ? { packages: o.entries.slice(0, LIST_MAX).map(packageDict) }
          : {}),
        users: [],
        extras: [],
        tags: [],
        groups: [],
      };
    },
  };

  const run = async (request: FastifyRequest, reply: FastifyReply, p: Params) => {
    const action = (request.params as { action: string }).action;
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new CkanError(400, 'Bad request', `Bad request - Action name not known: ${action}`);
    }
    const result = await handlers[action as Action](request, p);
    return reply
      .header('Cache-Control', 'no-cache')
      .header('Vary', 'Authorization, Cookie')
      .send({ help: help(action), success: true, result });
  };

  // Every failure in CKAN's shape: our own, validation by the framework, auth, anything.
  const errorHandler = (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const action = (request.params as { action?: string } | undefined)?.action ?? '';
    let status = 500;
    let body: Record<string, unknown> = {
      __type: 'Internal Server Error',
      message: 'Internal error',
    };
    if (error instanceof CkanError) {
      status = error.status;
      body = {
        __type: error.type,
        ...(error.message ? { message: error.message } : {}),
        ...error.fields,
      };
    } else if (error instanceof AppError) {
      status = error.status;
      const type =
        status === 403 || status === 401
          ? 'Authorization Error'
          : status === 404
            ? 'Not Found Error'
            : status === 429
              ? 'Too Many Requests'
              : status >= 500
                ? 'Internal Server Error'
                : 'Bad request';
      body = { __type: type, message: error.message };
      for (const [k, v] of Object.entries(error.extra.headers ?? {})) reply.header(k, v);
    } else if (
      typeof (error as { statusCode?: unknown }).statusCode === 'number' &&
      (error as { statusCode: number }).statusCode < 500
    ) {
      status = (error as { statusCode: number }).statusCode;
      body = {
        __type: 'Bad request',
        message: 'Bad request - JSON Error: could not read the body',
      };
    } else {
      request.log.error({ err: error }, 'CKAN action failed');
    }
    return reply
      .code(status)
      .header('Content-Type', 'application/json; charset=utf-8')
      .send({ help: help(action), success: false, error: body });
  };

  const params = Type.Object({ action: Type.String({ maxLength: 64 }) });
  app.get(
    '/api/3/action/:action',
    {
      config: { access: 'public' },
      errorHandler,
      schema: {
        tags: ['catalog (CKAN)'],
        summary: `CKAN-compatible read actions: ${ACTIONS.join(', ')}.`,
        params,
      },
    },
    async (request, reply) => run(request, reply, request.query as Params),
  );
  app.post(
    '/api/3/action/:action',
    {
      config: { access: 'public' },
      errorHandler,
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['catalog (CKAN)'],
        summary: 'The same actions with a JSON body (as CKAN clients may send).',
        params,
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (
        body !== undefined &&
        body !== null &&
        (typeof body !== 'object' || Array.isArray(body))
      ) {
        throw new CkanError(400, 'Bad request', 'Bad request - JSON Error: expected an object');
      }
      return run(request, reply, { ...(request.query as Params), ...((body as Params) ?? {}) });
    },
  );
}
