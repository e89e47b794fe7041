import { html } from 'lit-html';
import { api, formatDate, href, t } from '../context.js';
import type { Key } from '../i18n.js';

type Algorithm = Record<string, string> & { id: string; updatedAt: string };

export async function algorithmsPage() {
  const { items } = await api<{ items: Algorithm[] }>('/api/v1/algorithms?limit=200');
  return html`<h1>${t('algorithms')}</h1>
    <p>${t('algIntro')}</p>
    ${
      items.length === 0
        ? html`<p>${t('none')}</p>`
        : html`<ul class="cards">
            ${items.map(
              (a) =>
                html`<li lang=${a.lang ?? 'en'}>
                  <h2><a href=${href(`/algorithms/${a.id}`)}>${a.name}</a></h2>
                  <p>${a.description_short}</p>
                  <p class="muted">${a.organization} · ${a.department}</p>
                </li>`,
            )}
          </ul>`
    }`;
}

export async function algorithmPage([id]: string[]) {
  const a = await api<Algorithm>(`/api/v1/algorithms/${encodeURIComponent(id!)}`);
  const rows: [Key, string | undefined][] = [
    ['organisation', a.organization],
    ['department', a.department],
    ['status', a.status],
    ['goal', a.goal],
    ['decisionProcess', a.decision_making_process],
    ['impact', a.impact],
    ['risks', a.risks],
    ['riskCategory', a.risk_category],
    ['lawfulBasis', a.lawful_basis],
    ['sourceData', a.source_data],
    ['algorithmType', a.algorithm_type],
    ['monitoring', a.monitoring],
    ['humanIntervention', a.human_intervention],
    ['objection', a.objection_procedure],
    ['contact', a.contact_email],
  ];
  // The entry is written in one language (its `lang` field), the labels in the page's.
  return html`<h1 lang=${a.lang ?? 'en'}>${a.name}</h1>
    <p lang=${a.lang ?? 'en'}>${a.description_short}</p>
    <dl class="facts">
      ${rows.map(
        ([key, value]) =>
          html`<dt>${t(key)}</dt>
            <dd lang=${a.lang ?? 'en'}>${value ?? ''}</dd>`,
      )}
      <dt>${t('updated')}</dt>
      <dd>${formatDate(a.updatedAt)}</dd>
    </dl>
    <details>
      <summary>JSON</summary>
      <pre class="note">${JSON.stringify(a, null, 2)}</pre>
    </details>`;
}
