import { html } from 'lit-html';
import { unsafeSVG } from 'lit-html/directives/unsafe-svg.js';
import qrcode from 'qrcode-generator';
import { api, formatDate, href, lang, localized, t, colon } from '../context.js';
import type { Key } from '../i18n.js';
import { pointMap, type Point } from '../map.js';
import taxonomy from '../../../register/dtpr/taxonomy.json';

type Text = { en: string; fr: string };
interface Facet {
  elements: string[];
  description?: Text;
}
interface Technology {
  id: string;
  name: Text;
  summary: Text;
  status: 'planned' | 'active' | 'retired';
  technology: Facet;
  purpose: Facet;
  dataCollected: Facet;
  processing: Facet;
  storage: Facet;
  retention: Facet & { days?: number | null };
  access: Facet;
  accountable: { organisation: string; contact: { email?: string; phone?: string; url?: string } };
  locations: Point[];
  datasetIds: string[];
  updatedAt: string;
}

const elementNames = new Map(taxonomy.elements.map((e) => [e.id, e]));

/** DTPR element names are published in English only: marked so screen readers say them right. */
function elements(ids: string[]) {
  return ids.map((id) => {
    const e = elementNames.get(id);
    const name = e ? e.name.replace('{{duration}}', '') : id;
    return html`<span class="tag" lang="en" title=${e?.description ?? ''}>${name}</span>`;
  });
}

export async function technologiesPage() {
  const { items } = await api<{ items: Technology[] }>('/api/v1/technologies?limit=200');
  return html`<h1>${t('technologies')}</h1>
    <p>${t('techIntro')}</p>
    ${pointMap(items.flatMap((i) => i.locations.map((l) => ({ ...l, label: `${localized(i.name)} — ${l.label ?? ''}` }))))}
    ${
      items.length === 0
        ? html`<p>${t('none')}</p>`
        : html`<ul class="cards">
            ${items.map(
              (i) =>
                html`<li>
                  <h2><a href=${href(`/technologies/${i.id}`)}>${localized(i.name)}</a></h2>
                  <p>${localized(i.summary)}</p>
                  <p class="muted">${t('status')}${colon} ${t(i.status)}</p>
                </li>`,
            )}
          </ul>`
    }
    <p class="muted">${t('dtprCredit')}</p>`;
}

export async function technologyPage([id]: string[]) {
  const e = await api<Technology>(`/api/v1/technologies/${encodeURIComponent(id!)}`);
  const facet = (key: Key, f: Facet, extra?: string) =>
    html`<dt>${t(key)}</dt>
      <dd>
        ${elements(f.elements)} ${extra ? html`<div>${extra}</div>` : ''}
        ${f.description ? html`<div>${localized(f.description)}</div>` : ''}
      </dd>`;
  const c = e.accountable.contact;
  return html`<h1>${localized(e.name)}</h1>
    <p>${localized(e.summary)}</p>
    <dl class="facts">
      <dt>${t('status')}</dt>
      <dd>${t(e.status)}</dd>
      ${facet('tech', e.technology)} ${facet('purpose', e.purpose)}
      ${facet('dataCollected', e.dataCollected)} ${facet('processing', e.processing)}
      ${facet('storage', e.storage)}
      ${facet('retention', e.retention, typeof e.retention.days === 'number' ? t('retentionDays', { n: e.retention.days }) : undefined)}
      ${facet('access', e.access)}
      <dt>${t('accountable')}</dt>
      <dd>${e.accountable.organisation}</dd>
      <dt>${t('contact')}</dt>
      <dd>
        ${c.email ? html`<a href=${`mailto:${c.email}`}>${c.email}</a> ` : ''}${c.phone ?? ''}
        ${c.url ? html`<a href=${c.url} rel="noopener">${c.url}</a>` : ''}
      </dd>
      <dt>${t('feedsDatasets')}</dt>
      <dd>
        ${e.datasetIds.map((d) => html`<a class="tag" href=${href(`/datasets/${d}`)}>${d}</a>`)}
      </dd>
      <dt>${t('updated')}</dt>
      <dd>${formatDate(e.updatedAt)}</dd>
    </dl>
    <h2>${t('locations')}</h2>
    ${pointMap(e.locations)}
    <ol>
      ${e.locations.map((l) => html`<li>${l.label ?? ''} (${l.lat.toFixed(5)}, ${l.lon.toFixed(5)})</li>`)}
    </ol>
    <p><a class="button" href=${href(`/technologies/${e.id}/sign`)}>${t('sign')}</a></p>
    <p class="muted">${t('dtprCredit')}</p>`;
}

export async function signPage([id]: string[]) {
  const e = await api<Technology>(`/api/v1/technologies/${encodeURIComponent(id!)}`);
  const target = `${location.origin}/technologies/${e.id}?lang=${lang}`;
  const qr = qrcode(0, 'M');
  qr.addData(target);
  qr.make();
  const qrSvg = qr
    .createSvgTag({ cellSize: 4, margin: 2, scalable: true })
    .replace(
      '<svg ',
      `<svg class="qr" role="img" aria-label="${t('signScan')}" data-qr-url="${target.replace(/["<>&]/g, '')}" `,
    );
  return html`<div class="sign">
      <h1>${t('signTitle')}${colon} ${localized(e.name)}</h1>
      <p>${localized(e.summary)}</p>
      <p><strong>${t('purpose')}${colon}</strong> ${elements(e.purpose.elements)}</p>
      <p><strong>${t('dataCollected')}${colon}</strong> ${elements(e.dataCollected.elements)}</p>
      <p><strong>${t('accountable')}${colon}</strong> ${e.accountable.organisation}</p>
      ${unsafeSVG(qrSvg)}
      <p>${t('signScan')}${colon} <br /><span class="muted">${target}</span></p>
    </div>
    <p class="no-print">
      <button type="button" @click=${() => window.print()}>${t('print')}</button>
    </p>`;
}
