import { html, render } from 'lit-html';
import { api, href, t } from '../context.js';
import {
  fromBase64,
  parseCheckpoint,
  recomputeRoot,
  toBase64,
  verifyInclusion,
} from '../verify.js';

interface Entry {
  index: number;
  type: string;
  time: string;
  purpose: string | null;
  count: number | null;
  actor: { organisationId: string | null };
  subject: { kind: string; id: string };
  details: Record<string, unknown>;
}

interface Row {
  month: string;
  dataset: string;
  organisation: string;
  purpose: string;
  accesses: number;
  records: number;
  lastIndex: number;
}

/** Groups data-access entries by month, dataset, organisation and purpose. */
function byMonth(entries: Entry[]): Row[] {
  const rows = new Map<string, Row>();
  for (const e of entries) {
    const month = e.time.slice(0, 7);
    // Metering writes one entry per grant and day, naming the dataset in details.datasetId.
    const dataset = String(
      e.details.datasetId ?? (e.subject.kind === 'dataset' ? e.subject.id : '—'),
    );
    const organisation = e.actor.organisationId ?? '—';
    const purpose = e.purpose ?? '—';
    const key = [month, dataset, organisation, purpose].join('\u0000');
    const row = rows.get(key) ?? {
      month,
      dataset,
      organisation,
      purpose,
      accesses: 0,
      records: 0,
      lastIndex: e.index,
    };
    row.accesses += 1;
    row.records += e.count ?? 0;
    row.lastIndex = e.index;
    rows.set(key, row);
  }
  return [...rows.values()].sort(
    (a, b) => b.month.localeCompare(a.month) || a.dataset.localeCompare(b.dataset),
  );
}

interface Fork {
  origin: string;
  kind: 'same_size' | 'inconsistent';
  detectedAt: string;
  known: { size: number; note: string };
  presented: { size: number; note: string };
}

/** Forks of federated cities' logs this node witnessed; none when witnessing is not mounted. */
async function witnessedForks(): Promise<Fork[]> {
  try {
    return (await api<{ forks: Fork[] }>('/federation/witness/forks')).forks;
  } catch {
    return [];
  }
}

function forksNotice(forks: Fork[]) {
  if (forks.length === 0) return html``;
  return html`<section
    aria-labelledby="forks"
    class="alert"
    role="alert"
    data-forks=${forks.length}
  >
    <h2 id="forks">${t('witnessForks')}</h2>
    <p>${t('witnessForksIntro')}</p>
    <ul>
      ${forks.map(
        (f) =>
          html`<li>
            ${t('witnessForkLine', {
              origin: f.origin,
              kind: t(f.kind === 'same_size' ? 'witnessSameSize' : 'witnessInconsistent'),
              date: f.detectedAt.slice(0, 10),
              known: f.known.size,
              presented: f.presented.size,
            })}
            <details>
              <pre class="note">${f.known.note}</pre>
              <pre class="note">${f.presented.note}</pre>
            </details>
          </li>`,
      )}
    </ul>
  </section>`;
}

export async function transparencyPage() {
  const forks = await witnessedForks();
  const checkpointText = await (await fetch('/ledger/checkpoint')).text();
  const checkpoint = parseCheckpoint(checkpointText);
  const entries: Entry[] = [];
  let after: number | null = null;
  // At most 10 pages (2,000 entries) in the browser; the API has the rest.
  for (let page = 0; page < 10; page++) {
    const query = new URLSearchParams({ type: 'data.accessed', limit: '200' });
    if (after !== null) query.set('after', String(after));
    const res: { entries: Entry[]; next: number | null } = await api(`/ledger/entries?${query}`);
    entries.push(...res.entries);
    if (res.next === null) break;
    after = res.next;
  }
  const rows = byMonth(entries);

  const verify = async (event: Event) => {
    const button = event.target as HTMLButtonElement;
    const out = document.getElementById('verify-result')!;
    button.disabled = true;
    render(html`${t('verifying')}`, out);
    try {
      const { root, tiles } = await recomputeRoot('/ledger', checkpoint.size);
      if (toBase64(root) !== checkpoint.root)
        throw new Error(`${t('root')} ${toBase64(root)} ≠ ${checkpoint.root}`);
      render(
        html`<span class="ok" data-verified="true"
          >${t('verified', { tiles, size: checkpoint.size })}</span
        >`,
        out,
      );
      // Inclusion proofs of the access entries shown in the table.
      for (const row of rows.slice(0, 50)) {
        const cell = document.getElementById(`proof-${row.lastIndex}`);
        if (!cell) continue;
        const p: { leafHash: string; proof: string[]; rootHash: string } = await api(
          `/ledger/proofs/inclusion?index=${row.lastIndex}&treeSize=${checkpoint.size}`,
        );
        const ok =
          p.rootHash === checkpoint.root &&
          (await verifyInclusion(
            row.lastIndex,
            checkpoint.size,
            fromBase64(p.leafHash),
            p.proof.map(fromBase64),
            root,
          ));
        cell.textContent = ok ? `✓ ${t('proofOk')}` : `✗ ${t('proofBad')}`;
        cell.className = ok ? 'ok' : 'bad';
      }
    } catch (error) {
      render(
        html`<span class="bad">${t('verifyFailed', { reason: (error as Error).message })}</span>`,
        out,
      );
    } finally {
      button.disabled = false;
    }
  };

  return html`<h1>${t('transparency')}</h1>
    <p>${t('trIntro')}</p>
    ${forksNotice(forks)}
    <section aria-labelledby="checkpoint">
      <h2 id="checkpoint">${t('checkpoint')}</h2>
      <p>
        ${checkpoint.origin} ·
        <strong data-tree-size=${checkpoint.size}>${checkpoint.size}</strong> ${t('entries')}
      </p>
      <pre class="note">${checkpoint.text}</pre>
      <p><button type="button" @click=${verify}>${t('verify')}</button></p>
      <p id="verify-result" role="status" aria-live="polite"></p>
    </section>
    <section aria-labelledby="access">
      <h2 id="access">${t('accessByMonth')}</h2>
      ${
        rows.length === 0
          ? html`<p>${t('noAccess')}</p>`
          : html`<div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">${t('month')}</th>
                    <th scope="col">${t('dataset')}</th>
                    <th scope="col">${t('byOrg')}</th>
                    <th scope="col">${t('purpose')}</th>
                    <th scope="col">${t('times')}</th>
                    <th scope="col">${t('records')}</th>
                    <th scope="col">${t('proof')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map(
                    (r) =>
                      html`<tr>
                        <td>${r.month}</td>
                        <td>
                          <a href=${href(`/datasets/${encodeURIComponent(r.dataset)}`)}
                            >${r.dataset}</a
                          >
                        </td>
                        <td>${r.organisation}</td>
                        <td>${r.purpose}</td>
                        <td>${r.accesses}</td>
                        <td>${r.records}</td>
                        <td>
                          <a
                            href=${`/ledger/proofs/inclusion?index=${r.lastIndex}&treeSize=${checkpoint.size}`}
                            >#${r.lastIndex}</a
                          >
                          <span id=${`proof-${r.lastIndex}`}></span>
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
    </section>
    <p class="muted">${t('howToVerify')}</p>`;
}
