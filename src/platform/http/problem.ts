/**
 * The global error and not-found handlers: everything that goes wrong leaves the node as
 * RFC 9457 problem+json with the request id, and nothing internal (stack traces, SQL,
 * driver messages) reaches the caller. NGSI-LD routes use the ETSI error type URIs.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError } from '../db/database.js';
import {
  AppError,
  codeForStatus,
  errorCodes,
  problemType,
  type ErrorCode,
  type FieldError,
} from './errors.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId: string;
  errors?: FieldError[];
}

export function problemStyle(url: string): 'platform' | 'ngsi-ld' {
  return url.startsWith('/ngsi-ld/') ? 'ngsi-ld' : 'platform';
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError,
): FastifyReply {
  const style = problemStyle(request.url);
  const body: Problem = {
    type: problemType(error.code, style),
    title: errorCodes[error.code].title,
    status: error.status,
    ...(error.detail ? { detail: error.detail } : {}),
    instance: request.url.split('?')[0],
    requestId: request.id,
    ...(error.extra.errors?.length ? { errors: error.extra.errors } : {}),
  };
  for (const [name, value] of Object.entries(error.extra.headers ?? {})) reply.header(name, value);
  // NGSI-LD clients (and the ETSI test suites) expect ProblemDetails as application/json.
  return reply
    .code(error.status)
    .type(style === 'ngsi-ld' ? 'application/json' : 'application/problem+json')
    .send(body);
}

/** Turns anything thrown into an AppError, deciding what the caller may learn. */
export function toAppError(error: unknown): { appError: AppError; unexpected: boolean } {
  if (error instanceof AppError) return { appError: error, unexpected: false };
  if (error instanceof DatabaseUnavailableError) {
    return {
      appError: new AppError('unavailable', 'The database is unavailable; retry shortly', {
        headers: { 'Retry-After': '1' },
      }),
      unexpected: false,
    };
  }
  const fastifyError = error as FastifyError & {
    validation?: unknown[];
    validationContext?: string;
  };
  if (Array.isArray(fastifyError.validation)) {
    const context = fastifyError.validationContext ?? 'request';
    const errors: FieldError[] = (
      fastifyError.validation as {
        instancePath?: string;
        message?: string;
        params?: Record<string, unknown>;
      }[]
    ).map((v) => ({
      path: `${context}${v.instancePath ?? ''}${
        typeof v.params?.missingProperty === 'string' ? `/${v.params.missingProperty}` : ''
      }`,
      message: v.message ?? 'is invalid',
    }));
    return {
      appError: new AppError(
        'bad_request',
        `Invalid ${context}: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
        {
          errors,
        },
      ),
      unexpected: false,
    };
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        appError: new AppError('payload_too_large', 'The request body is too large'),
        unexpected: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        appError: new AppError('unsupported_media_type', 'This Content-Type is not accepted here'),
        unexpected: false,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        appError: new AppError('invalid_request', 'The request body is empty'),
        unexpected: false,
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        appError: new AppError('invalid_request', 'The request body is not valid JSON'),
        unexpected: false,
      };
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return {
      appError: new AppError('invalid_request', 'The request body is not valid JSON'),
      unexpected: false,
    };
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ErrorCode = codeForStatus(status);
    return { appError: new AppError(code, errorCodes[code].title), unexpected: false };
  }
  return {
    appError: new AppError(
      'internal',
      'An unexpected error occurred; quote the request id when reporting it',
    ),
    unexpected: true,
  };
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { appError, unexpected } = toAppError(error);
    if (unexpected) request.log.error({ err: error }, 'unhandled error');
    else if (appError.status >= 500) request.log.warn({ code: appError.code }, appError.message);
    return sendProblem(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
