import { html } from 'lit-html';
import { api, href, t, colon } from '../context.js';

interface Dataset {
  id: string;
  classification: string;
  licence: unknown;
  policyText: string[];
  catalog: { title?: string; description?: string } | null;
}

const title = (d: Dataset) => d.catalog?.title || d.id;

export async function datasetsPage() {
  const items = await api<Dataset[]>('/api/v1/datasets?limit=200');
  return html`<h1>${t('datasets')}</h1>
    ${
      items.length === 0
        ? html`<p>${t('none')}</p>`
        : html`<ul class="cards">
            ${items.map(
              (d) =>
                html`<li>
                  <h2><a href=${href(`/datasets/${encodeURIComponent(d.id)}`)}>${title(d)}</a></h2>
                  <p>${d.catalog?.description ?? ''}</p>
                  <p class="muted">${t('classification')}${colon} ${d.classification}</p>
                </li>`,
            )}
          </ul>`
    }`;
}

export async function datasetPage([id]: string[]) {
  const d = await api<Dataset>(`/api/v1/datasets/${encodeURIComponent(id!)}`);
  return html`<h1>${title(d)}</h1>
    <p>${d.catalog?.description ?? ''}</p>
    <dl class="facts">
      <dt>${t('classification')}</dt>
      <dd>${d.classification}</dd>
      <dt>${t('licence')}</dt>
      <dd>${typeof d.licence === 'string' ? d.licence : JSON.stringify(d.licence)}</dd>
      <dt>${t('policy')}</dt>
      <dd>
        <ul>
          ${d.policyText.map((line) => html`<li lang="en">${line}</li>`)}
        </ul>
      </dd>
    </dl>`;
}
