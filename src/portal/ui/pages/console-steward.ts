/**
 * The steward console (/console/steward…): the organisation's datasets with their policy
 * form, access requests to decide, grants to revoke, technology and algorithm register
 * entries, and consultations (open, moderate, publish the decision). Everything goes
 * through the node's public API with the signed-in person's session; the node decides
 * who may do what, the console only hides what would be refused anyway.
 */
import { html, type TemplateResult } from 'lit-html';
import { afterRender, api, colon, formatDate, href, localized, t } from '../context.js';
import type { Key } from '../i18n.js';
import {
  FormError,
  grantStatus,
  hasRole,
  live,
  loadFailed,
  renderInto,
  send,
  signInNotice,
  submitting,
  value,
  viewer,
  type Grant,
  type Me,
} from '../console/form.js';
import {
  policyFieldset,
  policyFromForm,
  refreshPreview,
  type Purpose,
} from '../console/policy-form.js';

interface Dataset {
  id: string;
  tenant: string;
  types: string[];
  idPattern: string | null;
  attrs: string[] | null;
  publisherOrg: string | null;
  classification: string;
  licence: { spdx?: string; url?: string; title?: string };
  policy: unknown;
  policyText: string[];
  retentionDays: number | null;
  transforms: unknown;
  catalog: { title?: string; description?: string } | null;
}
interface AccessRequest {
  id: string;
  datasetId: string;
  consumerOrg: string;
  purpose: string;
  durationDays: number;
  commercial: boolean;
  justification: string;
  status: string;
  reason: string | null;
  createdAt: string;
}

const STEWARD_ROLES = ['steward', 'publisher'];
const classifications = ['open', 'restricted', 'personal', 'confidential'] as const;

/**
 * Signed in with a role this page needs, or the notice that says what is missing.
 * Publishers manage their datasets; deciding access, the registers and consultations are
 * the steward's (the node refuses them to a publisher).
 */
async function steward(
  roles: string[] = STEWARD_ROLES,
): Promise<{ me: Me } | { notice: TemplateResult }> {
  const v = await viewer();
  if (!v.session.signedIn) return { notice: signInNotice() };
  if (!hasRole(v.me, ...roles) || !v.me) {
    return {
      notice: html`<p>${t(roles.includes('publisher') ? 'needSteward' : 'needStewardOnly')}</p>`,
    };
  }
  return { me: v.me };
}

const decides = (me: Me) => hasRole(me, 'steward');

function subnav(current: string, me: Me): TemplateResult {
  const items: [string, Key][] = [
    ['/console/steward', 'cStewardHome'],
    ['/console/steward/datasets/new', 'cNewDataset'],
    ...(decides(me)
      ? ([
          ['/console/steward/register', 'cRegister'],
          ['/console/steward/consultations', 'consultations'],
        ] as [string, Key][])
      : []),
    ['/console', 'consumerConsole'],
  ];
  return html`<nav aria-label=${t('consoleNav')} class="subnav">
    <ul>
      ${items.map(
        ([path, key]) =>
          html`<li>
            <a href=${href(path)} aria-current=${current === path ? 'page' : 'false'}>${t(key)}</a>
          </li>`,
      )}
    </ul>
  </nav>`;
}

const datasetTitle = (d: Dataset) => d.catalog?.title || d.id;

/** Types as the steward typed them: the node stores them expanded with the core context. */
const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
const compactType = (type: string) =>
  type.startsWith(DEFAULT_VOCAB) ? type.slice(DEFAULT_VOCAB.length) : type;

// ── overview: datasets, requests, grants ──────────────────────────────────────────

function requestRow(r: AccessRequest, datasets: Map<string, Dataset>): TemplateResult {
  const id = r.id;
  const approve = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const quota = value(form, 'quota');
    const perThousand = value(form, 'perThousand');
    const until = value(form, 'until');
    void submitting(form, async () => {
      await send('POST', `/api/v1/access-requests/${id}/approve`, {
        ...(until ? { validUntil: new Date(`${until}T23:59:59Z`).toISOString() } : {}),
        ...(quota ? { quotaPerDay: Number(quota) } : {}),
        ...(perThousand
          ? {
              fee: {
                currency: value(form, 'currency') || 'CAD',
                perThousandEntities: Number(perThousand),
              },
            }
          : {}),
      });
      await refreshDecisions();
      return t('cApproved');
    });
  };
  const deny = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    void submitting(form, async () => {
      await send('POST', `/api/v1/access-requests/${id}/deny`, { reason: value(form, 'reason') });
      await refreshDecisions();
      return t('cDenied');
    });
  };
  const d = datasets.get(r.datasetId);
  return html`<li class="card" data-request=${r.id} data-dataset=${r.datasetId}>
    <h3>${d ? datasetTitle(d) : r.datasetId} · ${r.consumerOrg}</h3>
    <dl class="facts">
      <dt>${t('purpose')}</dt>
      <dd>${r.purpose}</dd>
      <dt>${t('rDuration')}</dt>
      <dd>${t('rDays', { n: r.durationDays })}</dd>
      <dt>${t('rCommercial')}</dt>
      <dd>${r.commercial ? t('yes') : t('no')}</dd>
      <dt>${t('rJustification')}</dt>
      <dd>${r.justification}</dd>
      <dt>${t('status')}</dt>
      <dd>${t(`rs_${r.status}` as Key)}${r.reason ? html` — ${r.reason}` : ''}</dd>
    </dl>
    ${
      r.status === 'pending' && mayDecide
        ? html`<form class="approve" @submit=${approve}>
              <fieldset>
                <legend>${t('cApproveTerms')}</legend>
                <div class="pair">
                  <div>
                    <label for=${`until-${id}`}>${t('cValidUntil')}</label>
                    <input id=${`until-${id}`} name="until" type="date" />
                  </div>
                  <div>
                    <label for=${`quota-${id}`}>${t('cQuota')}</label>
                    <input id=${`quota-${id}`} name="quota" type="number" min="1" step="1" />
                  </div>
                </div>
                <div class="pair">
                  <div>
                    <label for=${`fee-${id}`}>${t('cFee')}</label>
                    <input id=${`fee-${id}`} name="perThousand" type="number" min="0" step="0.01" />
                  </div>
                  <div>
                    <label for=${`cur-${id}`}>${t('cCurrency')}</label>
                    <input
                      id=${`cur-${id}`}
                      name="currency"
                      value="CAD"
                      pattern="[A-Z]{3}"
                      maxlength="3"
                    />
                  </div>
                </div>
                <p><button type="submit">${t('cApprove')}</button></p>
                ${live()}
              </fieldset>
            </form>
            <form class="deny" @submit=${deny}>
              <label for=${`deny-${id}`}>${t('cDenyReason')}</label>
              <input id=${`deny-${id}`} name="reason" required maxlength="2000" />
              <p><button type="submit" class="secondary">${t('cDeny')}</button></p>
              ${live()}
            </form>`
        : ''
    }
  </li>`;
}

function grantRow(g: Grant, datasets: Map<string, Dataset>): TemplateResult {
  const revoke = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    void submitting(form, async () => {
      await send('POST', `/api/v1/grants/${g.id}/revoke`, { reason: value(form, 'reason') });
      await refreshDecisions();
      return t('cRevoked');
    });
  };
  const status = grantStatus(g);
  const d = datasets.get(g.datasetId);
  return html`<tr data-grant=${g.id} data-dataset=${g.datasetId}>
    <td>${d ? datasetTitle(d) : g.datasetId}</td>
    <td>${g.consumerOrg}</td>
    <td>${g.purpose}</td>
    <td>${formatDate(g.validUntil)}</td>
    <td>${g.quotaPerDay ?? '—'}</td>
    <td>${t(status)}${g.revokeReason ? html` — ${g.revokeReason}` : ''}</td>
    <td>
      ${
        status === 'gActive' && mayDecide
          ? html`<form @submit=${revoke}>
              <label for=${`revoke-${g.id}`}>${t('cRevokeReason')}</label>
              <input id=${`revoke-${g.id}`} name="reason" required maxlength="2000" />
              <button type="submit" class="secondary">${t('cRevoke')}</button>
              ${live()}
            </form>`
          : ''
      }
    </td>
  </tr>`;
}

let decisionDatasets = new Map<string, Dataset>();
/** Whether the signed-in person may approve, deny and revoke (a steward, not a publisher). */
let mayDecide = false;
async function refreshDecisions(): Promise<void> {
  const [requests, grants] = await Promise.all([
    api<AccessRequest[]>('/api/v1/access-requests'),
    api<Grant[]>('/api/v1/grants'),
  ]);
  const mine = (datasetId: string) => decisionDatasets.has(datasetId);
  const pending = requests.filter((r) => mine(r.datasetId));
  renderInto(
    'requests',
    pending.length
      ? html`<ul class="cards">
          ${pending.map((r) => requestRow(r, decisionDatasets))}
        </ul>`
      : html`<p>${t('none')}</p>`,
  );
  const ours = grants.filter((g) => mine(g.datasetId));
  renderInto(
    'grants',
    ours.length
      ? html`<div class="table-wrap">
          <table>
            <caption class="sr-only">
              ${t('cGrants')}
            </caption>
            <thead>
              <tr>
                <th scope="col">${t('dataset')}</th>
                <th scope="col">${t('byOrg')}</th>
                <th scope="col">${t('purpose')}</th>
                <th scope="col">${t('cValidUntil')}</th>
                <th scope="col">${t('cQuota')}</th>
                <th scope="col">${t('status')}</th>
                <th scope="col">${t('cActions')}</th>
              </tr>
            </thead>
            <tbody>
              ${ours.map((g) => grantRow(g, decisionDatasets))}
            </tbody>
          </table>
        </div>`
      : html`<p>${t('none')}</p>`,
  );
}

export async function stewardConsolePage(): Promise<TemplateResult> {
  const who = await steward();
  if ('notice' in who)
    return html`<h1>${t('stewardConsole')}</h1>
      ${who.notice}`;
  const { me } = who;
  const all = await api<Dataset[]>('/api/v1/datasets?limit=200');
  const datasets = all.filter(
    (d) => me.roles.includes('admin') || d.publisherOrg === me.organisationId,
  );
  decisionDatasets = new Map(datasets.map((d) => [d.id, d]));
  mayDecide = decides(me);
  afterRender(
    () => void refreshDecisions().catch((e: unknown) => loadFailed(e, 'requests', 'grants')),
  );
  return html`<h1>${t('stewardConsole')}</h1>
    ${subnav('/console/steward', me)}
    <section aria-labelledby="h-datasets">
      <h2 id="h-datasets">${t('cDatasets')}</h2>
      <p><a class="button" href=${href('/console/steward/datasets/new')}>${t('cNewDataset')}</a></p>
      ${
        datasets.length
          ? html`<ul class="cards">
              ${datasets.map(
                (d) =>
                  html`<li>
                    <h3>
                      <a href=${href(`/console/steward/datasets/${d.id}`)}>${datasetTitle(d)}</a>
                    </h3>
                    <p class="muted">
                      ${d.id} · ${t('classification')}${colon} ${t(`cl_${d.classification}` as Key)}
                    </p>
                  </li>`,
              )}
            </ul>`
          : html`<p>${t('none')}</p>`
      }
    </section>
    <section aria-labelledby="h-requests">
      <h2 id="h-requests">${t('cRequests')}</h2>
      ${mayDecide ? '' : html`<p class="muted" id="steward-decides">${t('cStewardDecides')}</p>`}
      <div id="requests" aria-live="polite"><p>${t('loading')}</p></div>
    </section>
    <section aria-labelledby="h-grants">
      <h2 id="h-grants">${t('cGrants')}</h2>
      <div id="grants" aria-live="polite"><p>${t('loading')}</p></div>
    </section>`;
}

// ── one dataset: create / edit with the policy form ───────────────────────────────

export async function stewardDatasetPage([id]: string[]): Promise<TemplateResult> {
  const creating = id === 'new';
  const who = await steward();
  const heading = creating ? t('cNewDataset') : t('cEditDataset');
  if ('notice' in who)
    return html`<h1>${heading}</h1>
      ${who.notice}`;
  const [purposes, existing] = await Promise.all([
    api<Purpose[]>('/api/v1/purposes'),
    creating ? Promise.resolve(null) : api<Dataset>(`/api/v1/datasets/${encodeURIComponent(id!)}`),
  ]);
  const submit = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const retention = value(form, 'retentionDays');
    const body = {
      ...(existing
        ? {
            tenant: existing.tenant,
            idPattern: existing.idPattern,
            attrs: existing.attrs,
            publisherOrg: existing.publisherOrg,
            ...(existing.transforms ? { transforms: existing.transforms } : {}),
          }
        : {}),
      types: value(form, 'types')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      classification: value(form, 'classification'),
      licence: { spdx: value(form, 'licence') },
      policy: policyFromForm(form),
      retentionDays: retention ? Number(retention) : null,
      catalog: {
        ...(existing?.catalog ?? {}),
        title: value(form, 'title'),
        description: value(form, 'description'),
      },
    };
    void submitting(form, async () => {
      const saved = await send<Dataset>(
        creating ? 'POST' : 'PUT',
        creating ? '/api/v1/datasets' : `/api/v1/datasets/${existing!.id}`,
        body,
      );
      if (creating) {
        location.assign(href(`/console/steward/datasets/${saved.id}`, { saved: '1' }));
      }
      return t('cSaved');
    });
  };
  afterRender(() => {
    const form = document.getElementById('dataset-form') as HTMLFormElement | null;
    if (form) void refreshPreview(form);
  });
  const justSaved = new URLSearchParams(location.search).get('saved') === '1';
  return html`<h1>${heading}</h1>
    ${subnav(creating ? '/console/steward/datasets/new' : '', who.me)}
    ${
      existing
        ? html`<p class="muted">
            ${existing.id} · <a href=${href(`/datasets/${existing.id}`)}>${t('cCatalogPage')}</a>
          </p>`
        : ''
    }
    <form
      id="dataset-form"
      @submit=${submit}
      @input=${(e: Event) => void refreshPreview(e.currentTarget as HTMLFormElement)}
    >
      <label for="ds-title">${t('cTitle')}</label>
      <input
        id="ds-title"
        name="title"
        required
        maxlength="200"
        .value=${existing?.catalog?.title ?? ''}
      />
      <label for="ds-description">${t('cDescription')}</label>
      <textarea
        id="ds-description"
        name="description"
        rows="3"
        maxlength="5000"
        .value=${existing?.catalog?.description ?? ''}
      ></textarea>
      <label for="ds-types">${t('cTypes')}</label>
      <p class="muted" id="ds-types-help">${t('cTypesHelp')}</p>
      <input
        id="ds-types"
        name="types"
        required
        aria-describedby="ds-types-help"
        .value=${existing?.types.map(compactType).join(', ') ?? ''}
      />
      <div class="pair">
        <div>
          <label for="ds-classification">${t('classification')}</label>
          <select id="ds-classification" name="classification">
            ${classifications.map(
              (c) =>
                html`<option
                  value=${c}
                  ?selected=${(existing?.classification ?? 'restricted') === c}
                >
                  ${t(`cl_${c}`)}
                </option>`,
            )}
          </select>
        </div>
        <div>
          <label for="ds-licence">${t('cLicenceSpdx')}</label>
          <input
            id="ds-licence"
            name="licence"
            required
            pattern="[A-Za-z0-9.+\\-]{1,64}"
            .value=${existing?.licence?.spdx ?? 'CC-BY-4.0'}
          />
        </div>
      </div>
      <label for="ds-retention">${t('cRetention')}</label>
      <input
        id="ds-retention"
        name="retentionDays"
        type="number"
        min="1"
        max="36500"
        .value=${existing?.retentionDays ? String(existing.retentionDays) : ''}
      />
      ${policyFieldset(purposes, (existing?.policy as never) ?? null)}
      <p><button type="submit">${creating ? t('cCreate') : t('cSave')}</button></p>
      <p class=${justSaved ? 'live ok' : 'live'} role="status" aria-live="polite">
        ${justSaved ? t('cSaved') : ''}
      </p>
    </form>`;
}

// ── register entries (technology in public space, algorithms) ─────────────────────

const META = [
  'id',
  'organisationId',
  'version',
  'createdAt',
  'updatedAt',
  'standard_version',
  'uuid',
  'publication_date',
  'last_change_date',
];
const TEMPLATES = {
  technology: {
    name: { en: '', fr: '' },
    summary: { en: '', fr: '' },
    status: 'planned',
    technology: { elements: [] },
    purpose: { elements: [] },
    dataCollected: { elements: [] },
    processing: { elements: [] },
    storage: { elements: [] },
    retention: { elements: [], days: 30 },
    access: { elements: [] },
    accountable: { organisation: '', contact: { email: '' } },
    locations: [],
    datasetIds: [],
  },
  algorithm: {
    name: '',
    description_short: '',
    organization: '',
    department: '',
    contact_email: '',
    status: 'in_development',
    goal: '',
    impact: '',
    risks: '',
    risk_category: 'minimal',
    algorithm_type: 'rule_based',
    type: 'human_in_the_loop',
    human_intervention: '',
    objection_procedure: '',
    lang: 'en',
  },
};

interface Entry {
  id: string;
  organisationId: string;
  name: string | { en: string; fr: string };
  [key: string]: unknown;
}

function registerSection(
  kind: 'technology' | 'algorithm',
  path: string,
  entries: Entry[],
): TemplateResult {
  const formId = `${kind}-form`;
  const edit = (entry: Entry | null) => {
    const form = document.getElementById(formId) as HTMLFormElement;
    const body = entry
      ? Object.fromEntries(Object.entries(entry).filter(([k]) => !META.includes(k)))
      : TEMPLATES[kind];
    (form.elements.namedItem('id') as HTMLInputElement).value = entry?.id ?? '';
    (form.elements.namedItem('json') as HTMLTextAreaElement).value = JSON.stringify(body, null, 2);
    (form.elements.namedItem('json') as HTMLTextAreaElement).focus();
  };
  const submit = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const entryId = value(form, 'id');
    void submitting(form, async () => {
      let body: unknown;
      try {
        body = JSON.parse(value(form, 'json'));
      } catch {
        throw new FormError(t('cBadJson'));
      }
      const saved = await send<Entry>(
        entryId ? 'PUT' : 'POST',
        entryId ? `${path}/${entryId}` : path,
        body,
      );
      (form.elements.namedItem('id') as HTMLInputElement).value = saved.id;
      return `${t('cSaved')} (${saved.id})`;
    });
  };
  const name = (e: Entry) => (typeof e.name === 'string' ? e.name : localized(e.name));
  const publicPath = kind === 'technology' ? '/technologies' : '/algorithms';
  return html`<section aria-labelledby=${`h-${kind}`}>
    <h2 id=${`h-${kind}`}>${t(kind === 'technology' ? 'technologies' : 'algorithms')}</h2>
    ${
      entries.length
        ? html`<ul class="plain">
            ${entries.map(
              (e) =>
                html`<li>
                  <a href=${href(`${publicPath}/${e.id}`)}>${name(e)}</a>
                  <button type="button" class="secondary" @click=${() => edit(e)}>
                    ${t('cEdit')}<span class="sr-only"> ${name(e)}</span>
                  </button>
                </li>`,
            )}
          </ul>`
        : html`<p>${t('none')}</p>`
    }
    <p>
      <button type="button" class="secondary" @click=${() => edit(null)}>${t('cNewEntry')}</button>
    </p>
    <form id=${formId} @submit=${submit}>
      <input type="hidden" name="id" />
      <label for=${`${kind}-json`}>${t('cEntryJson')}</label>
      <p class="muted" id=${`${kind}-json-help`}>${t('cEntryJsonHelp')}</p>
      <textarea
        id=${`${kind}-json`}
        name="json"
        rows="14"
        class="code"
        spellcheck="false"
        maxlength="200000"
        required
        aria-describedby=${`${kind}-json-help`}
      ></textarea>
      <p><button type="submit">${t('cSave')}</button></p>
      ${live()}
    </form>
  </section>`;
}

export async function stewardRegisterPage(): Promise<TemplateResult> {
  const who = await steward(['steward']);
  if ('notice' in who)
    return html`<h1>${t('cRegister')}</h1>
      ${who.notice}`;
  const { me } = who;
  const own = (items: Entry[]) =>
    items.filter((e) => me.roles.includes('admin') || e.organisationId === me.organisationId);
  const [tech, algs] = await Promise.all([
    api<{ items: Entry[] }>('/api/v1/technologies?limit=200'),
    api<{ items: Entry[] }>('/api/v1/algorithms?limit=200'),
  ]);
  return html`<h1>${t('cRegister')}</h1>
    ${subnav('/console/steward/register', me)}
    <p>${t('cRegisterIntro')}</p>
    ${registerSection('technology', '/api/v1/technologies', own(tech.items))}
    ${registerSection('algorithm', '/api/v1/algorithms', own(algs.items))}`;
}

// ── consultations: open, moderate, decide ──────────────────────────────────────────

type Text = { en: string; fr: string };
interface Consultation {
  id: string;
  organisationId: string;
  subject: Text;
  closesAt: string;
  status: 'open' | 'closed' | 'decided';
  commentCount: number;
}
interface Comment {
  id: string;
  lang: string;
  body: string | null;
  createdAt: string;
  moderation: { hidden: boolean; reason: string } | null;
}
const reasons = ['off_topic', 'abusive', 'personal_data', 'spam', 'other'] as const;
const outcomes = ['approved', 'approved_with_changes', 'rejected', 'withdrawn'] as const;

async function consultationDetail(c: Consultation): Promise<TemplateResult> {
  const detail = await api<{ comments: Comment[] }>(`/api/v1/consultations/${c.id}`);
  const moderate = (k: Comment) => (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const hidden = k.body === null;
    void submitting(form, async () => {
      await send('POST', `/api/v1/consultations/${c.id}/comments/${k.id}/moderation`, {
        action: hidden ? 'restore' : 'hide',
        reason: value(form, 'reason'),
      });
      location.reload();
      return t('cSaved');
    });
  };
  const decide = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    void submitting(form, async () => {
      await send('POST', `/api/v1/consultations/${c.id}/decision`, {
        outcome: value(form, 'outcome'),
        reasons: { en: value(form, 'reasonsEn'), fr: value(form, 'reasonsFr') },
      });
      location.reload();
      return t('cSaved');
    });
  };
  return html`<li class="card" data-consultation=${c.id}>
    <h3><a href=${href(`/consultations/${c.id}`)}>${localized(c.subject)}</a></h3>
    <p>${t(c.status)} · ${t('closes')} ${formatDate(c.closesAt, true)}</p>
    <h4>${t('comments')} (${c.commentCount})</h4>
    <ul class="plain">
      ${detail.comments.map(
        (k) =>
          html`<li class="comment ${k.body === null ? 'hidden' : ''}">
            ${
              k.body === null
                ? html`<p>
                    ${t('removed', { reason: t((k.moderation?.reason ?? 'other') as Key) })}
                  </p>`
                : html`<p lang=${k.lang}>${k.body}</p>`
            }
            <form class="inline" @submit=${moderate(k)}>
              <label for=${`mod-${k.id}`}>${t('cModerationReason')}</label>
              <select id=${`mod-${k.id}`} name="reason">
                ${reasons.map((r) => html`<option value=${r}>${t(r)}</option>`)}
              </select>
              <button type="submit" class="secondary">
                ${k.body === null ? t('cRestore') : t('cHide')}
              </button>
              ${live()}
            </form>
          </li>`,
      )}
    </ul>
    ${
      c.status !== 'decided'
        ? html`<form @submit=${decide}>
            <fieldset>
              <legend>${t('cPublishDecision')}</legend>
              <label for=${`outcome-${c.id}`}>${t('decision')}</label>
              <select id=${`outcome-${c.id}`} name="outcome">
                ${outcomes.map((o) => html`<option value=${o}>${t(o)}</option>`)}
              </select>
              <label for=${`ren-${c.id}`}>${t('reasons')} (English)</label>
              <textarea
                id=${`ren-${c.id}`}
                name="reasonsEn"
                lang="en"
                rows="3"
                required
                maxlength="8000"
              ></textarea>
              <label for=${`rfr-${c.id}`}>${t('reasons')} (français)</label>
              <textarea
                id=${`rfr-${c.id}`}
                name="reasonsFr"
                lang="fr"
                rows="3"
                required
                maxlength="8000"
              ></textarea>
              <p><button type="submit">${t('cPublish')}</button></p>
              ${live()}
            </fieldset>
          </form>`
        : ''
    }
  </li>`;
}

export async function stewardConsultationsPage(): Promise<TemplateResult> {
  const who = await steward(['steward']);
  if ('notice' in who)
    return html`<h1>${t('consultations')}</h1>
      ${who.notice}`;
  const { me } = who;
  const { items } = await api<{ items: Consultation[] }>('/api/v1/consultations?limit=200');
  const mine = items.filter(
    (c) => me.roles.includes('admin') || c.organisationId === me.organisationId,
  );
  const details = await Promise.all(mine.map(consultationDetail));
  const open = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const relatedId = value(form, 'relatedId');
    void submitting(form, async () => {
      const created = await send<{ id: string }>('POST', '/api/v1/consultations', {
        topic: value(form, 'topic'),
        ...(relatedId ? { relatedId } : {}),
        subject: { en: value(form, 'subjectEn'), fr: value(form, 'subjectFr') },
        description: { en: value(form, 'descriptionEn'), fr: value(form, 'descriptionFr') },
        closesAt: new Date(value(form, 'closesAt')).toISOString(),
      });
      location.assign(href(`/consultations/${created.id}`));
      return t('cSaved');
    });
  };
  return html`<h1>${t('consultations')}</h1>
    ${subnav('/console/steward/consultations', me)}
    <section aria-labelledby="h-open">
      <h2 id="h-open">${t('cOpenConsultation')}</h2>
      <form id="consultation-form" @submit=${open}>
        <label for="con-topic">${t('cTopic')}</label>
        <select id="con-topic" name="topic">
          <option value="technology">${t('topic_technology')}</option>
          <option value="data_sharing">${t('topic_data_sharing')}</option>
          <option value="other">${t('other')}</option>
        </select>
        <label for="con-related">${t('cRelated')}</label>
        <input
          id="con-related"
          name="relatedId"
          maxlength="200"
          pattern="[A-Za-z0-9._:\\-]{1,200}"
        />
        <div class="pair">
          <div>
            <label for="con-subject-en">${t('cSubject')} (English)</label>
            <input id="con-subject-en" name="subjectEn" lang="en" required maxlength="200" />
          </div>
          <div>
            <label for="con-subject-fr">${t('cSubject')} (français)</label>
            <input id="con-subject-fr" name="subjectFr" lang="fr" required maxlength="200" />
          </div>
        </div>
        <label for="con-description-en">${t('cDescription')} (English)</label>
        <textarea
          id="con-description-en"
          name="descriptionEn"
          lang="en"
          rows="3"
          required
          maxlength="8000"
        ></textarea>
        <label for="con-description-fr">${t('cDescription')} (français)</label>
        <textarea
          id="con-description-fr"
          name="descriptionFr"
          lang="fr"
          rows="3"
          required
          maxlength="8000"
        ></textarea>
        <label for="con-closes">${t('closes')}</label>
        <input id="con-closes" name="closesAt" type="datetime-local" required />
        <p><button type="submit">${t('cOpen')}</button></p>
        ${live()}
      </form>
    </section>
    <section aria-labelledby="h-mine">
      <h2 id="h-mine">${t('cYourConsultations')}</h2>
      ${
        details.length
          ? html`<ul class="cards">
              ${details}
            </ul>`
          : html`<p>${t('none')}</p>`
      }
    </section>`;
}
