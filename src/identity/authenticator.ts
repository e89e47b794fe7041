/** Turns `Authorization: Bearer <access token>` into the request's actor. */
import type { Authenticator } from '../platform/http/access.js';
import { AppError } from '../platform/http/errors.js';
import type { TokenService } from './tokens.service.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function invalidToken(): AppError {
  return new AppError('unauthorized', 'The access token is invalid, expired or revoked', {
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });
}

export function bearerAuthenticator(tokens: TokenService): Authenticator {
  return async (request) => {
    const header = request.headers.authorization;
    if (!header || !/^Bearer\s/i.test(header)) return null;
    const match = BEARER.exec(header);
    if (!match) throw invalidToken();
    const check = await tokens.verify(match[1]!);
    if (!check.ok) throw invalidToken();
    return check.actor;
  };
}
