/** Shared state of the page: language, links that keep `?lang=`, API calls, session. */
import { translate, type Key, type Lang } from './i18n.js';

const params = new URLSearchParams(location.search);
const explicit = params.get('lang');
/** Chosen by `?lang=` when present; otherwise the server's choice from Accept-Language. */
export const lang: Lang =
  explicit === 'fr' || explicit === 'en'
    ? explicit
    : document.documentElement.lang === 'fr'
      ? 'fr'
      : 'en';
/** An explicit choice sticks: every internal link carries it. */
const sticky = explicit === 'fr' || explicit === 'en';

export const t = (key: Key, values?: Record<string, string | number>) =>
  translate(lang, key, values);

export function href(path: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams(extra);
  if (sticky) query.set('lang', lang);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The URL of this page in the other language. */
export function otherLanguageHref(): string {
  const query = new URLSearchParams(location.search);
  query.set('lang', lang === 'fr' ? 'en' : 'fr');
  return `${location.pathname}?${query}`;
}

export function localized(text: { en: string; fr: string } | undefined | null): string {
  return text ? text[lang] || text.en : '';
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { detail?: string; title?: string } | null,
  ) {
    super(problem?.detail ?? `HTTP ${status}`);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, {
    credentials: 'same-origin',
    ...init,
    headers: { accept: 'application/json', ...(init.headers ?? {}) },
  });
  if (!res.ok) {
    const problem = await res.json().catch(() => null);
    throw new HttpError(res.status, problem);
  }
  return (res.status === 204 ? null : await res.json()) as T;
}

export interface Session {
  signedIn: boolean;
  personId?: string;
  displayName?: string | null;
  csrfToken?: string;
}

let session: Promise<Session> | null = null;
export function currentSession(): Promise<Session> {
  session ??= api<Session>('/auth/session').catch(() => ({ signedIn: false }));
  return session;
}

export function formatDate(iso: string, withTime = false): string {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', {
    dateStyle: 'long',
    ...(withTime ? { timeStyle: 'short' } : {}),
  }).format(new Date(iso));
}

const afterRenderQueue: (() => void)[] = [];
/**
 * Runs `fn` once the page being built is in the document, so it can find the page's
 * elements by id (a page function returns its template before main.ts renders it).
 */
export function afterRender(fn: () => void): void {
  afterRenderQueue.push(fn);
}
/** Called by main.ts right after it rendered a page. */
export function runAfterRender(): void {
  for (const fn of afterRenderQueue.splice(0)) fn();
}

/** French puts a (non-breaking) space before a colon. */
export const colon = lang === 'fr' ? '\u00a0:' : ':';
