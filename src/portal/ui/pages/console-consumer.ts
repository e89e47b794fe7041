/**
 * The consumer console (/console): request access to a dataset for a purpose, follow
 * requests and grants, manage the organisation's API clients (a secret is shown once,
 * right after it is made, and never again), and read usage with the monthly statements.
 */
import { html, type TemplateResult } from 'lit-html';
import { afterRender, api, formatDate, href, t } from '../context.js';
import type { Key } from '../i18n.js';
import {
  grantStatus,
  hasRole,
  live,
  loadFailed,
  problemText,
  renderInto,
  send,
  signInNotice,
  submitting,
  value,
  viewer,
  type Grant,
} from '../console/form.js';
import type { Purpose } from '../console/policy-form.js';

interface Dataset {
  id: string;
  classification: string;
  publisherOrg: string | null;
  catalog: { title?: string } | null;
}
interface AccessRequest {
  id: string;
  datasetId: string;
  consumerOrg: string;
  purpose: string;
  durationDays: number;
  status: string;
  reason: string | null;
  createdAt: string;
}
interface ApiClient {
  id: string;
  name: string;
  status: string;
  roles: string[];
  createdAt: string;
}
interface Statement {
  lines: {
    datasetId: string;
    purpose: string;
    requests: number;
    entities: number;
    currency: string;
    amount: number;
  }[];
  totals: { currency: string; amount: number }[];
}

let organisationId: string | null = null;
/** Dataset titles by id, for the tables (the API gives ids). */
let titles = new Map<string, string>();
const titleOf = (id: string) => titles.get(id) ?? id;

async function refreshRequestsAndGrants(): Promise<void> {
  const [requests, grants] = await Promise.all([
    api<AccessRequest[]>('/api/v1/access-requests'),
    api<Grant[]>('/api/v1/grants'),
  ]);
  const ours = requests.filter((r) => r.consumerOrg === organisationId);
  renderInto(
    'my-requests',
    ours.length
      ? html`<div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">${t('dataset')}</th>
                <th scope="col">${t('purpose')}</th>
                <th scope="col">${t('rDuration')}</th>
                <th scope="col">${t('status')}</th>
              </tr>
            </thead>
            <tbody>
              ${ours.map(
                (r) =>
                  html`<tr data-request=${r.id} data-dataset=${r.datasetId}>
                    <td><a href=${href(`/datasets/${r.datasetId}`)}>${titleOf(r.datasetId)}</a></td>
                    <td>${r.purpose}</td>
                    <td>${t('rDays', { n: r.durationDays })}</td>
                    <td class="status">
                      ${t(`rs_${r.status}` as Key)}${r.reason ? html` — ${r.reason}` : ''}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p>${t('none')}</p>`,
  );
  const held = grants.filter((g) => g.consumerOrg === organisationId);
  renderInto(
    'my-grants',
    held.length
      ? html`<div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">${t('dataset')}</th>
                <th scope="col">${t('purpose')}</th>
                <th scope="col">${t('cValidUntil')}</th>
                <th scope="col">${t('cQuota')}</th>
                <th scope="col">${t('cFee')}</th>
                <th scope="col">${t('status')}</th>
              </tr>
            </thead>
            <tbody>
              ${held.map(
                (g) =>
                  html`<tr data-grant=${g.id} data-dataset=${g.datasetId}>
                    <td><a href=${href(`/datasets/${g.datasetId}`)}>${titleOf(g.datasetId)}</a></td>
                    <td>${g.purpose}</td>
                    <td>${formatDate(g.validUntil)}</td>
                    <td>${g.quotaPerDay ?? '—'}</td>
                    <td>${g.fee.perThousandEntities} ${g.fee.currency}</td>
                    <td class="status">
                      ${t(grantStatus(g))}${g.revokeReason ? html` — ${g.revokeReason}` : ''}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p>${t('none')}</p>`,
  );
}

/** The one time a secret is visible: right after creation or rotation. */
function showSecret(clientId: string, secret: string): void {
  const copy = async () => {
    const input = document.getElementById('secret-value') as HTMLInputElement;
    const done = document.getElementById('copy-status')!;
    // Selected first, so Ctrl+C works whatever the clipboard API does: it may be missing,
    // refuse, or wait for a permission answer that never comes (headless, kiosk).
    input.select();
    const copied = await Promise.race([
      navigator.clipboard?.writeText(secret).then(
        () => true,
        () => false,
      ) ?? Promise.resolve(false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000)),
    ]);
    done.textContent = copied ? t('cCopied') : t('cSelected');
  };
  renderInto(
    'new-secret',
    html`<div class="secret" data-client=${clientId}>
      <p role="alert"><strong>${t('cSecretOnce')}</strong></p>
      <p>${t('cClientId')}: <code id="new-client-id">${clientId}</code></p>
      <label for="secret-value">${t('cClientSecret')}</label>
      <input id="secret-value" readonly .value=${secret} class="code" />
      <p>
        <button type="button" @click=${copy}>${t('cCopy')}</button>
        <span id="copy-status" role="status" aria-live="polite"></span>
      </p>
    </div>`,
  );
  document.getElementById('secret-value')?.focus();
}

async function refreshClients(): Promise<void> {
  const clients = await api<ApiClient[]>('/api/v1/me/clients');
  const rotate = (c: ApiClient) => async () => {
    const answer = await send<{ clientId: string; clientSecret: string }>(
      'POST',
      `/api/v1/me/clients/${c.id}/secret`,
    ).catch((error: unknown) => {
      renderInto('new-secret', html`<p class="live bad" role="alert">${problemText(error)}</p>`);
      return null;
    });
    if (answer) showSecret(answer.clientId, answer.clientSecret);
  };
  renderInto(
    'clients',
    clients.length
      ? html`<ul class="plain">
          ${clients.map(
            (c) =>
              html`<li data-client=${c.id}>
                <strong>${c.name}</strong> <code>${c.id}</code> ·
                ${t(c.status === 'active' ? 'cClientActive' : 'cClientDisabled')} ·
                ${formatDate(c.createdAt)}
                <button type="button" class="secondary" @click=${rotate(c)}>
                  ${t('cRotate')}<span class="sr-only"> ${c.name}</span>
                </button>
              </li>`,
          )}
        </ul>`
      : html`<p>${t('none')}</p>`,
  );
}

async function refreshUsage(month: string): Promise<void> {
  const url = `/api/v1/usage/statements/${month}`;
  renderInto(
    'statement-links',
    html`<a href=${url} download=${`usage-${month}.json`}>${t('cStatementJson')}</a> ·
      <a href=${`${url}?format=csv`} download=${`usage-${month}.csv`}>${t('cStatementCsv')}</a>`,
  );
  const statement = await api<Statement>(url).catch(() => null);
  renderInto(
    'statement',
    !statement
      ? html`<p class="bad">${t('failed')}</p>`
      : statement.lines.length === 0
        ? html`<p>${t('cNoUsage')}</p>`
        : html`<div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">${t('dataset')}</th>
                  <th scope="col">${t('purpose')}</th>
                  <th scope="col">${t('cRequestsCount')}</th>
                  <th scope="col">${t('records')}</th>
                  <th scope="col">${t('cAmount')}</th>
                </tr>
              </thead>
              <tbody>
                ${statement.lines.map(
                  (l) =>
                    html`<tr data-dataset=${l.datasetId}>
                      <td>${titleOf(l.datasetId)}</td>
                      <td>${l.purpose}</td>
                      <td>${l.requests}</td>
                      <td>${l.entities}</td>
                      <td>${l.amount} ${l.currency}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`,
  );
}

export async function consumerConsolePage(): Promise<TemplateResult> {
  const heading = html`<h1>${t('consumerConsole')}</h1>`;
  const v = await viewer();
  if (!v.session.signedIn) return html`${heading}${signInNotice()}`;
  if (!v.me?.organisationId)
    return html`${heading}
      <p>${t('needOrganisation')}</p>`;
  organisationId = v.me.organisationId;
  const isConsumer = hasRole(v.me, 'consumer');
  const isSteward = hasRole(v.me, 'steward', 'publisher');
  const [datasets, purposes] = await Promise.all([
    api<Dataset[]>('/api/v1/datasets?limit=200'),
    api<Purpose[]>('/api/v1/purposes'),
  ]);
  titles = new Map(datasets.map((d) => [d.id, d.catalog?.title || d.id]));
  const requestable = datasets.filter((d) => d.classification !== 'open');
  const month = new Date().toISOString().slice(0, 7);
  afterRender(() => {
    void refreshRequestsAndGrants().catch((e: unknown) =>
      loadFailed(e, 'my-requests', 'my-grants'),
    );
    if (isConsumer) void refreshClients().catch((e: unknown) => loadFailed(e, 'clients'));
    void refreshUsage(month);
  });

  const requestAccess = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    void submitting(form, async () => {
      await send(
        'POST',
        `/api/v1/datasets/${encodeURIComponent(value(form, 'dataset'))}/access-requests`,
        {
          purpose: value(form, 'purpose'),
          durationDays: Number(value(form, 'durationDays')),
          commercial: (form.elements.namedItem('commercial') as HTMLInputElement).checked,
          justification: value(form, 'justification'),
        },
      );
      form.reset();
      await refreshRequestsAndGrants();
      return t('cRequestSent');
    });
  };
  const createClient = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    void submitting(form, async () => {
      const created = await send<{ client: { id: string }; clientSecret: string }>(
        'POST',
        '/api/v1/me/clients',
        { name: value(form, 'name') },
      );
      form.reset();
      showSecret(created.client.id, created.clientSecret);
      await refreshClients();
      return t('cClientCreated');
    });
  };

  return html`${heading}
    ${isSteward ? html`<p><a href=${href('/console/steward')}>${t('stewardConsole')}</a></p>` : ''}
    ${
      isConsumer
        ? html`<section aria-labelledby="h-request">
            <h2 id="h-request">${t('cRequestAccess')}</h2>
            <form id="request-form" @submit=${requestAccess}>
              <label for="rq-dataset">${t('dataset')}</label>
              <select id="rq-dataset" name="dataset" required>
                ${requestable.map(
                  (d) =>
                    html`<option value=${d.id}>
                      ${d.catalog?.title || d.id} (${t(`cl_${d.classification}` as Key)})
                    </option>`,
                )}
              </select>
              <label for="rq-purpose">${t('purpose')}</label>
              <select id="rq-purpose" name="purpose" required>
                ${purposes.map((p) => html`<option value=${p.id}>${p.label}</option>`)}
              </select>
              <label for="rq-duration">${t('rDurationDays')}</label>
              <input
                id="rq-duration"
                name="durationDays"
                type="number"
                min="1"
                max="3660"
                value="90"
                required
              />
              <label class="check"
                ><input type="checkbox" name="commercial" /> ${t('rCommercialUse')}</label
              >
              <label for="rq-justification">${t('rJustification')}</label>
              <textarea
                id="rq-justification"
                name="justification"
                rows="4"
                maxlength="5000"
                required
              ></textarea>
              <p><button type="submit">${t('cSendRequest')}</button></p>
              ${live()}
            </form>
          </section>`
        : html`<p>${t('needConsumer')}</p>`
    }
    <section aria-labelledby="h-my-requests">
      <h2 id="h-my-requests">${t('cMyRequests')}</h2>
      <div id="my-requests" aria-live="polite"><p>${t('loading')}</p></div>
    </section>
    <section aria-labelledby="h-my-grants">
      <h2 id="h-my-grants">${t('cGrants')}</h2>
      <div id="my-grants" aria-live="polite"><p>${t('loading')}</p></div>
    </section>
    ${
      isConsumer
        ? html`<section aria-labelledby="h-clients">
            <h2 id="h-clients">${t('cClients')}</h2>
            <p>${t('cClientsIntro')}</p>
            <div id="clients"><p>${t('loading')}</p></div>
            <div id="new-secret"></div>
            <form id="client-form" @submit=${createClient}>
              <label for="cl-name">${t('cClientName')}</label>
              <input id="cl-name" name="name" required maxlength="200" />
              <p><button type="submit">${t('cCreateClient')}</button></p>
              ${live()}
            </form>
          </section>`
        : ''
    }
    <section aria-labelledby="h-usage">
      <h2 id="h-usage">${t('cUsage')}</h2>
      <label for="usage-month">${t('month')}</label>
      <input
        id="usage-month"
        type="month"
        .value=${month}
        @change=${(e: Event) => {
          const m = (e.target as HTMLInputElement).value;
          if (/^\d{4}-\d{2}$/.test(m)) void refreshUsage(m);
        }}
      />
      <p id="statement-links"></p>
      <div id="statement" aria-live="polite"></div>
    </section>`;
}
