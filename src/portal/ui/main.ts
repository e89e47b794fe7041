/** The portal application: routing by path, one layout, one page module per section. */
import { html, render, type TemplateResult } from 'lit-html';
import {
  colon,
  currentSession,
  href,
  lang,
  otherLanguageHref,
  runAfterRender,
  t,
} from './context.js';
import type { Key } from './i18n.js';
import { algorithmPage, algorithmsPage } from './pages/algorithms.js';
import { consultationPage, consultationsPage } from './pages/consultations.js';
import { consumerConsolePage } from './pages/console-consumer.js';
import {
  stewardConsolePage,
  stewardConsultationsPage,
  stewardDatasetPage,
  stewardRegisterPage,
} from './pages/console-steward.js';
import { datasetPage, datasetsPage } from './pages/datasets.js';
import { homePage } from './pages/home.js';
import { signPage, technologiesPage, technologyPage } from './pages/technologies.js';
import { transparencyPage } from './pages/transparency.js';

type Page = (params: string[]) => Promise<TemplateResult> | TemplateResult;

const routes: [RegExp, Page, Key | null][] = [
  [/^\/$/, homePage, null],
  [/^\/datasets$/, datasetsPage, 'datasets'],
  [/^\/datasets\/([^/]+)$/, datasetPage, 'datasets'],
  [/^\/technologies$/, technologiesPage, 'technologies'],
  [/^\/technologies\/([^/]+)\/sign$/, signPage, 'technologies'],
  [/^\/technologies\/([^/]+)$/, technologyPage, 'technologies'],
  [/^\/algorithms$/, algorithmsPage, 'algorithms'],
  [/^\/algorithms\/([^/]+)$/, algorithmPage, 'algorithms'],
  [/^\/consultations$/, consultationsPage, 'consultations'],
  [/^\/consultations\/([^/]+)$/, consultationPage, 'consultations'],
  [/^\/transparency$/, transparencyPage, 'transparency'],
  [/^\/console$/, consumerConsolePage, null],
  [/^\/console\/steward$/, stewardConsolePage, null],
  [/^\/console\/steward\/datasets\/([^/]+)$/, stewardDatasetPage, null],
  [/^\/console\/steward\/register$/, stewardRegisterPage, null],
  [/^\/console\/steward\/consultations$/, stewardConsultationsPage, null],
];

const sections: Key[] = ['datasets', 'technologies', 'algorithms', 'consultations', 'transparency'];

async function account(): Promise<TemplateResult> {
  const session = await currentSession();
  if (!session.signedIn) {
    const returnTo = location.pathname + location.search;
    return html`<a href=${`/auth/login?returnTo=${encodeURIComponent(returnTo)}`}
      >${t('signIn')}</a
    >`;
  }
  const signOut = async () => {
    await fetch('/auth/logout', {
      method: 'POST',
      headers: { 'x-csrf-token': session.csrfToken ?? '' },
    });
    location.reload();
  };
  return html`<span
      >${t('signedInAs')}${session.displayName ? `${colon} ${session.displayName}` : ''}</span
    >
    · <a href=${href('/console')}>${t('console')}</a>
    <button type="button" @click=${signOut}>${t('signOut')}</button>`;
}

function layout(current: Key | null, body: TemplateResult, who: TemplateResult): TemplateResult {
  return html`
    <header class="site">
      <div class="bar">
        <a class="brand" href=${href('/')}>${t('brand')}</a>
        <div>
          <a
            href=${otherLanguageHref()}
            lang=${lang === 'fr' ? 'en' : 'fr'}
            aria-label=${t('switchLabel')}
            >${t('switchTo')}</a
          >
          · ${who}
        </div>
      </div>
      <nav aria-label=${t('nav')}>
        <ul>
          ${sections.map(
            (key) =>
              html`<li>
                <a href=${href(`/${key}`)} aria-current=${current === key ? 'page' : 'false'}
                  >${t(key)}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
    </header>
    <main id="main" tabindex="-1">${body}</main>
    <footer class="site">
      <p>
        ${t('brand')} · <a href="/docs">API</a> ·
        <a href="/ledger/checkpoint">/ledger/checkpoint</a>
      </p>
    </footer>
  `;
}

async function show(): Promise<void> {
  const root = document.getElementById('app')!;
  document.documentElement.lang = lang;
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const match = routes.map(([re, page, key]) => ({ m: re.exec(path), page, key })).find((r) => r.m);
  const who = await account();
  render(layout(match?.key ?? null, html`<p>${t('loading')}</p>`, who), root);
  let body: TemplateResult;
  try {
    body = match
      ? await match.page(match.m!.slice(1).map(decodeURIComponent))
      : html`<h1>${t('notFound')}</h1>`;
  } catch (error) {
    const status = (error as { status?: number }).status;
    body = html`<h1>${status === 404 || status === 400 ? t('notFound') : t('failed')}</h1>`;
  }
  render(layout(match?.key ?? null, body, who), root);
  runAfterRender();
  const heading = root.querySelector('h1');
  document.title = heading ? `${heading.textContent} · ${t('brand')}` : t('brand');
  document.body.dataset.ready = 'true';
}

void show();
