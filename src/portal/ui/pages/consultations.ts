import { html, type TemplateResult } from 'lit-html';
import {
  colon,
  api,
  currentSession,
  formatDate,
  href,
  HttpError,
  lang,
  localized,
  t,
} from '../context.js';
import type { Key } from '../i18n.js';

type Text = { en: string; fr: string };
interface Consultation {
  id: string;
  topic: string;
  relatedId: string | null;
  subject: Text;
  description: Text;
  openedAt: string;
  closesAt: string;
  status: 'open' | 'closed' | 'decided';
  decision: { outcome: string; reasons: Text; at: string } | null;
  commentCount: number;
}
interface Comment {
  id: string;
  lang: string;
  body: string | null;
  createdAt: string;
  mine: boolean;
  moderation: { hidden: boolean; reason: string } | null;
}

export async function consultationsPage() {
  const { items } = await api<{ items: Consultation[] }>('/api/v1/consultations?limit=200');
  return html`<h1>${t('consultations')}</h1>
    <p>${t('conIntro')}</p>
    ${
      items.length === 0
        ? html`<p>${t('none')}</p>`
        : html`<ul class="cards">
            ${items.map(
              (c) =>
                html`<li>
                  <h2><a href=${href(`/consultations/${c.id}`)}>${localized(c.subject)}</a></h2>
                  <p>
                    ${t(c.status)} · ${t('closes')} ${formatDate(c.closesAt)} · ${c.commentCount}
                    ${t('comments').toLowerCase()}
                  </p>
                </li>`,
            )}
          </ul>`
    }`;
}

function commentView(k: Comment): TemplateResult {
  if (k.body === null) {
    const reason = k.moderation ? t(k.moderation.reason as Key) : '';
    return html`<li class="comment hidden">${t('removed', { reason })}</li>`;
  }
  return html`<li class="comment" lang=${k.lang}>
    <p>${k.body}</p>
    <p class="muted">${formatDate(k.createdAt, true)}${k.mine ? html` · ${t('mine')}` : ''}</p>
  </li>`;
}

export async function consultationPage([id]: string[]) {
  const c = await api<Consultation & { comments: Comment[] }>(
    `/api/v1/consultations/${encodeURIComponent(id!)}`,
  );
  const session = await currentSession();
  let form: TemplateResult = html``;
  if (c.status === 'open') {
    if (!session.signedIn) {
      const returnTo = location.pathname + location.search;
      form = html`<p>
        <a class="button" href=${`/auth/login?returnTo=${encodeURIComponent(returnTo)}`}
          >${t('signInToComment')}</a
        >
      </p>`;
    } else {
      const submit = async (event: Event) => {
        event.preventDefault();
        const target = event.target as HTMLFormElement;
        const status = target.querySelector<HTMLElement>('[role=status]')!;
        const button = target.querySelector('button')!;
        button.disabled = true;
        try {
          await api(`/api/v1/consultations/${c.id}/comments`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-csrf-token': session.csrfToken ?? '',
            },
            body: JSON.stringify({
              body: (target.elements.namedItem('body') as HTMLTextAreaElement).value,
              lang,
            }),
          });
          location.reload();
        } catch (error) {
          status.textContent = error instanceof HttpError ? error.message : t('failed');
          button.disabled = false;
        }
      };
      form = html`<form @submit=${submit}>
        <label for="comment-body">${t('yourComment')}</label>
        <p id="comment-help" class="muted">${t('commentHelp')}</p>
        <textarea
          id="comment-body"
          name="body"
          rows="5"
          maxlength="4000"
          required
          aria-describedby="comment-help"
        ></textarea>
        <p><button type="submit">${t('send')}</button></p>
        <p role="status" class="bad"></p>
      </form>`;
    }
  }
  return html`<h1>${localized(c.subject)}</h1>
    <p><strong>${t(c.status)}</strong> · ${t('closes')} ${formatDate(c.closesAt, true)}</p>
    <p>${localized(c.description)}</p>
    ${c.relatedId?.startsWith('tec_') ? html`<p><a href=${href(`/technologies/${c.relatedId}`)}>${t('technologies')}</a></p>` : ''}
    ${
      c.decision
        ? html`<section aria-labelledby="decision">
            <h2 id="decision">${t('decision')}${colon} ${t(c.decision.outcome as Key)}</h2>
            <p><strong>${t('reasons')}${colon}</strong> ${localized(c.decision.reasons)}</p>
            <p class="muted">${formatDate(c.decision.at)}</p>
          </section>`
        : ''
    }
    <section aria-labelledby="comments">
      <h2 id="comments">${t('comments')} (${c.commentCount})</h2>
      ${
        c.comments.length === 0
          ? html`<p>${t('noComments')}</p>`
          : html`<ul class="plain">
              ${c.comments.map(commentView)}
            </ul>`
      }
      ${form}
    </section>`;
}
