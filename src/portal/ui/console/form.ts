/**
 * What the steward and consumer consoles share: who is signed in (with roles), calls that
 * change something (session cookie + CSRF token), status messages announced to assistive
 * technology, and the sign-in / missing-role notices.
 */
import { html, render, type TemplateResult } from 'lit-html';
import { api, currentSession, HttpError, t, type Session } from '../context.js';
import type { Key } from '../i18n.js';

export interface Me {
  kind: 'anonymous' | 'client' | 'person';
  id: string | null;
  organisationId: string | null;
  roles: string[];
}

export interface Viewer {
  session: Session;
  me: Me | null;
}

export async function viewer(): Promise<Viewer> {
  const session = await currentSession();
  const me = session.signedIn ? await api<Me>('/api/v1/me').catch(() => null) : null;
  return { session, me };
}

export const hasRole = (me: Me | null, ...roles: string[]) =>
  !!me && (me.roles.includes('admin') || roles.some((r) => me.roles.includes(r)));

/** A state-changing call made with the session cookie: carries the CSRF token. */
export async function send<T>(
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const session = await currentSession();
  return api<T>(path, {
    method,
    headers: {
      'x-csrf-token': session.csrfToken ?? '',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A mistake found in the browser before anything is sent; its message is for the person. */
export class FormError extends Error {}

/** The message of a failed call, with the field errors of a problem+json answer. */
export function problemText(error: unknown): string {
  if (error instanceof FormError) return error.message;
  if (!(error instanceof HttpError)) return t('failed');
  const problem = error.problem as {
    detail?: string;
    errors?: { path: string; message: string }[];
  };
  const fields = (problem?.errors ?? []).map((e) => `${e.path}: ${e.message}`);
  return [problem?.detail ?? error.message, ...fields].join(' — ');
}

/**
 * Runs a form's action with its button disabled; success and failure are written to the
 * form's live region (role=status for success, role=alert for errors) so they are announced.
 */
export async function submitting(
  form: HTMLFormElement,
  action: () => Promise<string | void>,
): Promise<boolean> {
  const buttons = [...form.querySelectorAll('button')];
  const region = form.querySelector<HTMLElement>('.live');
  buttons.forEach((b) => (b.disabled = true));
  try {
    const message = await action();
    if (region) {
      region.setAttribute('role', 'status');
      region.className = 'live ok';
      region.textContent = message ?? '';
    }
    return true;
  } catch (error) {
    if (region) {
      region.setAttribute('role', 'alert');
      region.className = 'live bad';
      region.textContent = problemText(error);
    }
    return false;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

/** The live region a form reports into; present (empty) from the start so it is announced. */
export const live = () => html`<p class="live" role="status" aria-live="polite"></p>`;

export function signInNotice(): TemplateResult {
  const returnTo = location.pathname + location.search;
  return html`<p>${t('consoleSignIn')}</p>
    <p>
      <a class="button" href=${`/auth/login?returnTo=${encodeURIComponent(returnTo)}`}
        >${t('signIn')}</a
      >
    </p>`;
}

export function value(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name) as HTMLInputElement | null;
  return el ? el.value.trim() : '';
}

export function checked(form: HTMLFormElement, name: string): boolean {
  return (form.elements.namedItem(name) as HTMLInputElement | null)?.checked ?? false;
}

const taken = new WeakSet<Element>();
/**
 * Re-renders one part of a page in place (lists that change after an action). The first
 * render replaces what the page put there meanwhile ("Loading…"): lit-html would add
 * after it.
 */
export function renderInto(id: string, template: TemplateResult): void {
  const el = document.getElementById(id);
  if (!el) return;
  if (!taken.has(el)) {
    el.replaceChildren();
    taken.add(el);
  }
  render(template, el);
}

/** Fills the parts of a page that a failed load left saying "Loading…". */
export function loadFailed(error: unknown, ...ids: string[]): void {
  for (const id of ids) {
    renderInto(id, html`<p class="bad" role="alert">${problemText(error)}</p>`);
  }
}

/** A date input's value (YYYY-MM-DD) as the start of that day in UTC, or undefined. */
export function dayStart(day: string): string | undefined {
  return day ? new Date(`${day}T00:00:00Z`).toISOString() : undefined;
}

export interface Grant {
  id: string;
  datasetId: string;
  consumerOrg: string;
  purpose: string;
  validFrom: string;
  validUntil: string;
  quotaPerDay: number | null;
  fee: { currency: string; perThousandEntities: number };
  revokedAt: string | null;
  revokeReason: string | null;
}

/** A grant's state as the consoles show it. */
export const grantStatus = (g: Grant): Key =>
  g.revokedAt ? 'gRevoked' : new Date(g.validUntil) < new Date() ? 'gExpired' : 'gActive';
