import { html } from 'lit-html';
import { api, formatDate, href, lang, t } from '../context.js';
import type { Key } from '../i18n.js';

type Algorithm = Record<string, string> & { id: string; updatedAt: string };

const enumLabels = new Set([
  'planned',
  'in_development',
  'in_use',
  'retired',
  'unacceptable',
  'high',
  'limited',
  'minimal',
  'rule_based',
  'self_learning',
  'hybrid',
  'human_in_the_loop',
  'human_on_the_loop',
  'human_in_command',
]);

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
  // Enumerated values are shown in the page's language; free text as the entry wrote it.
  const value = (v: string | undefined): [string | undefined, string] =>
    v && enumLabels.has(v) ? [t(v as Key), lang] : [v, a.lang ?? 'en'];
  const rows: [Key, string | undefined | [string | undefined, string]][] = [
    ['organisation', a.organization],
    ['department', a.department],
    ['status', value(a.status)],
    ['goal', a.goal],
    ['decisionProcess', a.decision_making_process],
    ['impact', a.impact],
    ['risks', a.risks],
    ['riskCategory', value(a.risk_category)],
    ['lawfulBasis', a.lawful_basis],
    ['sourceData', a.source_data],
    ['algorithmType', value(a.algorithm_type)],
    ['oversight', value(a.type)],
    ['monitoring', a.monitoring],
    ['humanIntervention', a.human_intervention],
    ['objection', a.objection_procedure],
    ['contact', a.contact_email],
  ];
  // The entry is written in one language (its `lang` field), the labels in the page's.
  return html`<h1 lang=${a.lang ?? 'en'}>${a.name}</h1>
    <p lang=${a.lang ?? 'en'}>${a.description_short}</p>
    <dl class="facts">
      ${rows.map(([key, cell]) => {
        const [text, textLang] = Array.isArray(cell) ? cell : [cell, a.lang ?? 'en'];
        return html`<dt>${t(key)}</dt>
          <dd lang=${textLang}>${text ?? ''}</dd>`;
      })}
      <dt>${t('updated')}</dt>
      <dd>${formatDate(a.updatedAt)}</dd>
    </dl>
    <details>
      <summary>JSON</summary>
      <pre class="note">${JSON.stringify(a, null, 2)}</pre>
    </details>`;
}
