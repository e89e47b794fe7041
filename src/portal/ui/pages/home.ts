import { html } from 'lit-html';
import { href, t } from '../context.js';
import type { Key } from '../i18n.js';

export function homePage() {
  const sections: Key[] = [
    'technologies',
    'algorithms',
    'consultations',
    'transparency',
    'datasets',
  ];
  return html`<h1>${t('brand')}</h1>
    <p>${t('homeIntro')}</p>
    <p>${t('homeVerify')}</p>
    <ul class="cards">
      ${sections.map((key) => html`<li><a href=${href(`/${key}`)}>${t(key)}</a></li>`)}
    </ul>`;
}
