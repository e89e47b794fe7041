/**
 * The public catalog: a searchable list (this city, or the whole federation through the
 * CKAN-compatible search with ext_scope=federation — harvested datasets link to their home
 * node) and a page per dataset with its facts, policy in plain language, download/API
 * instructions and the live preview.
 */
import { html } from 'lit-html';
import { api, colon, formatDate, href, t } from '../context.js';
import { previewSection, type Preview } from '../preview.js';
import { ct, type CatalogKey } from '../preview-text.js';

interface Dataset {
  id: string;
  classification: string;
  licence: { spdx: string } | { url: string; title: string };
  policyText: string[];
  updatedAt: string;
  catalog: {
    title?: string;
    description?: string;
    keywords?: string[];
    spatial?: string;
    temporal?: { start?: string; end?: string };
    contact?: string;
  } | null;
}

interface Package {
  id: string;
  name: string;
  title: string;
  notes: string;
  url: string;
  organization: { title: string };
  extras: { key: string; value: string }[];
  resources: { url: string }[];
}

const extra = (p: Package, key: string) => p.extras.find((e) => e.key === key)?.value;

export async function datasetsPage() {
  const params = new URLSearchParams(location.search);
  const federation = params.get('scope') === 'federation';
  const q = (params.get('q') ?? '').slice(0, 200);
  const query = new URLSearchParams({ rows: '200', sort: 'title_string asc' });
  if (q) query.set('q', q);
  if (federation) query.set('ext_scope', 'federation');
  const { result } = await api<{ result: { count: number; results: Package[] } }>(
    `/api/3/action/package_search?${query}`,
  );
  const keep = new URLSearchParams(location.search).get('lang');
  return html`<h1>${t('datasets')}</h1>
    <form method="get" action="/datasets" class="catalog-search" role="search">
      ${keep ? html`<input type="hidden" name="lang" value=${keep} />` : ''}
      <label for="catalog-q">${ct('search')}</label>
      <input id="catalog-q" name="q" type="search" maxlength="200" .value=${q} />
      <fieldset>
        <legend class="muted">${ct('federationHint')}</legend>
        <label
          ><input type="radio" name="scope" value="local" ?checked=${!federation} />
          ${ct('thisNode')}</label
        >
        <label
          ><input
            type="radio"
            name="scope"
            value="federation"
            id="scope-federation"
            ?checked=${federation}
          />
          ${ct('federation')}</label
        >
      </fieldset>
      <button type="submit">${ct('searchButton')}</button>
    </form>
    <p class="muted" role="status">${ct('results', { n: result.count })}</p>
    ${
      result.results.length === 0
        ? html`<p>${t('none')}</p>`
        : html`<ul class="cards">
            ${result.results.map((p) => {
              const home = extra(p, 'home_node_name');
              const classification = extra(p, 'classification');
              return html`<li>
                <h2>
                  ${
                    home
                      ? html`<a href=${p.url} rel="external">${p.title}</a>`
                      : html`<a href=${href(`/datasets/${encodeURIComponent(p.id)}`)}
                          >${p.title}</a
                        >`
                  }
                </h2>
                <p>${p.notes}</p>
                <p class="muted">
                  ${
                    home
                      ? ct('homeNode', { node: home })
                      : html`${t('classification')}${colon} ${classification ?? ''} ·
                        ${ct('publisher')}${colon} ${p.organization.title}`
                  }
                </p>
              </li>`;
            })}
          </ul>`
    }`;
}

function licenceOf(d: Dataset) {
  return 'spdx' in d.licence
    ? html`<a href=${`https://spdx.org/licenses/${d.licence.spdx}`} rel="external"
        >${d.licence.spdx}</a
      >`
    : html`<a href=${d.licence.url} rel="external">${d.licence.title}</a>`;
}

export async function datasetPage([id]: string[]) {
  const path = encodeURIComponent(id!);
  const [d, pkg, preview] = await Promise.all([
    api<Dataset>(`/api/v1/datasets/${path}`),
    api<{ result: Package }>(`/api/3/action/package_show?id=${path}`).then(
      (r) => r.result,
      () => null,
    ),
    api<Preview>(`/api/v1/catalog/datasets/${path}/preview?limit=20`).catch(() => null),
  ]);
  const c = d.catalog ?? {};
  const ngsi = localPath(pkg?.resources[0]?.url);
  const known = ['open', 'restricted', 'personal', 'confidential'];
  return html`<h1>${c.title || d.id}</h1>
    <p>${c.description ?? ''}</p>
    <dl class="facts">
      <dt>${t('classification')}</dt>
      <dd>
        ${d.classification}
        ${
          known.includes(d.classification)
            ? html`<span class="muted"> — ${ct(d.classification as CatalogKey)}</span>`
            : ''
        }
      </dd>
      ${
        pkg
          ? html`<dt>${ct('publisher')}</dt>
              <dd>${pkg.organization.title}</dd>`
          : ''
      }
      <dt>${t('licence')}</dt>
      <dd>${licenceOf(d)}</dd>
      ${
        c.keywords?.length
          ? html`<dt>${ct('keywords')}</dt>
              <dd>${c.keywords.join(', ')}</dd>`
          : ''
      }
      ${
        c.spatial
          ? html`<dt>${ct('coverage')}</dt>
              <dd>${c.spatial}</dd>`
          : ''
      }
      ${
        c.temporal?.start || c.temporal?.end
          ? html`<dt>${ct('period')}</dt>
              <dd>
                ${c.temporal?.start ? ct('from', { date: c.temporal.start }) : ''}
                ${c.temporal?.end ? ct('until', { date: c.temporal.end }) : ''}
              </dd>`
          : ''
      }
      ${
        c.contact
          ? html`<dt>${ct('contact')}</dt>
              <dd>${c.contact}</dd>`
          : ''
      }
      <dt>${ct('updated')}</dt>
      <dd>${formatDate(d.updatedAt)}</dd>
      <dt>${t('policy')}</dt>
      <dd>
        <ul>
          ${d.policyText.map((line) => html`<li lang="en">${line}</li>`)}
        </ul>
      </dd>
    </dl>
    <section aria-labelledby="download">
      <h2 id="download">${ct('download')}</h2>
      <p>${ct('downloadIntro')}</p>
      <ul>
        ${ngsi ? html`<li><a href=${ngsi}>${ct('ngsiQuery')}</a> <code>${ngsi}</code></li>` : ''}
        <li><a href=${`/catalog/datasets/${path}`}>${ct('dcatRecord')}</a></li>
        <li><a href=${`/api/3/action/package_show?id=${path}`}>${ct('ckanRecord')}</a></li>
      </ul>
    </section>
    ${preview ? previewSection(preview) : ''}`;
}

/** The NGSI-LD query of the dataset's distribution, as a path on this node. */
function localPath(url: string | undefined): string | null {
  if (!url) return null;
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}
