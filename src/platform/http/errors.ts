/**
 * The closed set of error codes, the one table that maps them to HTTP status and
 * problem type, and the one error class. Services return expected failures as values;
 * route handlers throw `AppError` (through the factories below) and the global handler
 * in `problem.ts` renders RFC 9457 problem+json.
 */

const NGSI_LD = 'https://uri.etsi.org/ngsi-ld/errors/';

interface CodeSpec {
  status: number;
  title: string;
  /** The ETSI NGSI-LD error type used for this code on /ngsi-ld routes. */
  ngsiLd?: string;
}

export const errorCodes = {
  bad_request: { status: 400, title: 'Bad request', ngsiLd: 'BadRequestData' },
  invalid_request: { status: 400, title: 'Invalid request', ngsiLd: 'InvalidRequest' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  too_many_results: { status: 403, title: 'Too many results', ngsiLd: 'TooManyResults' },
  too_complex_query: { status: 403, title: 'Query too complex', ngsiLd: 'TooComplexQuery' },
  not_found: { status: 404, title: 'Not found', ngsiLd: 'ResourceNotFound' },
  nonexistent_tenant: { status: 404, title: 'Tenant not found', ngsiLd: 'NonexistentTenant' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  not_acceptable: { status: 406, title: 'Not acceptable' },
  already_exists: { status: 409, title: 'Already exists', ngsiLd: 'AlreadyExists' },
  conflict: { status: 409, title: 'Conflict' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  operation_not_supported: {
    status: 422,
    title: 'Operation not supported',
    ngsiLd: 'OperationNotSupported',
  },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal server error', ngsiLd: 'InternalError' },
  not_implemented: {
    status: 501,
    title: 'Not implemented',
    ngsiLd: 'OperationNotSupported',
  },
  no_multi_tenant_support: {
    status: 501,
    title: 'Multi-tenancy not supported',
    ngsiLd: 'NoMultiTenantSupport',
  },
  ld_context_not_available: {
    status: 503,
    title: 'JSON-LD context not available',
    ngsiLd: 'LdContextNotAvailable',
  },
  unavailable: { status: 503, title: 'Service unavailable' },
} satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof errorCodes;

/** Problem type URI for a code, for platform routes or NGSI-LD routes. */
export function problemType(code: ErrorCode, style: 'platform' | 'ngsi-ld'): string {
  const spec: CodeSpec = errorCodes[code];
  if (style === 'ngsi-ld' && spec.ngsiLd) return NGSI_LD + spec.ngsiLd;
  return `urn:ocp:problem:${code.replaceAll('_', '-')}`;
}

export interface FieldError {
  /** JSON pointer or parameter name the problem is about. */
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** Safe to show the caller: never SQL, stack traces or other callers' data. */
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail ?? errorCodes[code].title);
    this.name = 'AppError';
    this.status = errorCodes[code].status;
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new AppError('bad_request', detail, { errors });
export const invalidRequest = (detail: string) => new AppError('invalid_request', detail);
export const unauthorized = (detail = 'A valid access token is required') =>
  new AppError('unauthorized', detail, { headers: { 'WWW-Authenticate': 'Bearer' } });
export const forbidden = (detail = 'Not allowed') => new AppError('forbidden', detail);
/** Also what callers get for things they may not see: never confirm existence. */
export const notFound = (detail = 'Not found') => new AppError('not_found', detail);
export const alreadyExists = (detail: string) => new AppError('already_exists', detail);
export const conflict = (detail: string) => new AppError('conflict', detail);
export const unsupportedMediaType = (detail: string) =>
  new AppError('unsupported_media_type', detail);
export const notAcceptable = (detail: string) => new AppError('not_acceptable', detail);
export const unavailable = (detail: string) => new AppError('unavailable', detail);
export const rateLimited = (retryAfterSeconds: number) =>
  new AppError('rate_limited', `Retry after ${retryAfterSeconds} s`, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });

const byStatus = new Map<number, ErrorCode>();
for (const [code, spec] of Object.entries(errorCodes) as [ErrorCode, CodeSpec][]) {
  if (!byStatus.has(spec.status)) byStatus.set(spec.status, code);
}

/** The code for a bare HTTP status raised by the framework (e.g. 405, 413, 415). */
export function codeForStatus(status: number): ErrorCode {
  return byStatus.get(status) ?? (status >= 500 ? 'internal' : 'bad_request');
}
