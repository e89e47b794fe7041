/**
 * The portal in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core;
 * nothing downloads a browser): every page in both languages, the language switch that
 * sticks, a resident signing in through the node's own OpenID Provider and commenting on
 * a consultation in French, a restricted dataset read by a consumer after approval (through
 * the governance API) showing on the transparency page with a proof verified in the browser,
 * a phone-size viewport, keyboard focus and labels, and no request leaving the node.
 * Screenshots go to test-artifacts/portal/ (not committed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { adminToken, bearer, createClient } from '../identity/identity.testing.js';
import { call, createDataset, grantAccess, policy } from '../governance/governance.testing.js';
import { waitForTree } from '../ledger/testing.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  createOrganisation,
  sampleAlgorithm,
  sampleTechnology,
} from '../register/register.testing.js';
import {
  browserBackend as backend,
  createPerson,
  launchBrowser,
  screenshot as shot,
  skipWithoutChromium,
  startPortalNode,
  type BrowserSession,
} from './browser.testing.js';

describe(`portal in headless Chromium (${backend})`, { skip: skipWithoutChromium }, () => {
  let node: TestNode;
  let browser: BrowserSession;
  let base: string;
  let technologyId: string;
  let algorithmId: string;
  let consultationId: string;
  let accessIndex: number;
  let datasetId: string;

  before(async () => {
    ({ node, base } = await startPortalNode());
    const admin = await adminToken(node);
    const city = await createOrganisation(node, admin, 'Mobility department');
    const steward = await createClient(node, admin, ['steward'], city);
    const post = async (url: string, payload: object) => {
      const res = await node.app.inject({
        method: 'POST',
        url,
        headers: bearer(steward.token),
        payload,
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id as string;
    };
    technologyId = await post('/api/v1/technologies', sampleTechnology());
    algorithmId = await post('/api/v1/algorithms', sampleAlgorithm());
    consultationId = await post('/api/v1/consultations', {
      topic: 'technology',
      relatedId: technologyId,
      subject: { en: 'Cameras on Peel Street', fr: 'Caméras sur la rue Peel' },
      description: {
        en: 'Should we count traffic with cameras?',
        fr: 'Faut-il compter la circulation avec des caméras?',
      },
      closesAt: new Date(Date.now() + 7 * 86400_000).toISOString(),
    });
    const residents = await createOrganisation(node, admin, 'Residents');
    await createPerson(node, admin, {
      organisationId: residents,
      username: 'rita',
      password: 'a long local password',
    });
    // The governance flow through its API: the city publishes parking sensors as a
    // restricted dataset, a research organisation asks for access for research, the
    // steward approves, the researchers' client reads, metering records the access.
    const publisher = await createClient(node, admin, ['steward', 'publisher'], city);
    const stewardCaller = { token: publisher.token, organisationId: city };
    const sensors = [1, 2, 3].map((n) => ({
      id: `urn:ngsi-ld:ParkingSpot:peel-${n}`,
      type: 'ParkingSpot',
      status: { type: 'Property', value: n % 2 ? 'free' : 'occupied' },
    }));
    const created = await call(
      node,
      stewardCaller,
      'POST',
      '/ngsi-ld/v1/entityOperations/create',
      sensors,
    );
    assert.equal(created.statusCode, 201, created.body);
    datasetId = await createDataset(node, stewardCaller, {
      types: ['ParkingSpot'],
      classification: 'restricted',
      policy: policy(['research']),
    });
    const researchers = await createClient(node, admin, ['consumer']);
    const consumerCaller = {
      token: researchers.token,
      organisationId: researchers.organisationId,
    };
    await grantAccess(node, consumerCaller, stewardCaller, datasetId, 'research');
    const read = await call(
      node,
      consumerCaller,
      'GET',
      '/ngsi-ld/v1/entities?type=ParkingSpot',
      undefined,
      {
        'ocp-purpose': 'research',
      },
    );
    assert.equal(read.statusCode, 200, read.body);
    assert.equal(read.json().length, 3);
    await node.app.governance.meter.flush();
    const { rows } = await node.platform.db.query<{ n: number }>(
      'SELECT ((SELECT count(*) FROM ledger_queue) + (SELECT count(*) FROM ledger_entries))::int AS n',
    );
    // Everything queued so far (registrations, entries, the access) is in the log.
    await waitForTree(node, rows[0]!.n);
    const { entries: found } = (await (
      await fetch(`${base}/ledger/entries?type=data.accessed`)
    ).json()) as { entries: { index: number }[] };
    assert.equal(found.length, 1, 'the access entry is in the log');
    accessIndex = found[0]!.index;

    // API answers for things that do not exist are expected where a test asks for them.
    browser = await launchBrowser(base, { expectedFailures: /tec_doesnotexist/ });
  });

  after(async () => {
    await browser?.close();
    await node?.close();
  });

  const open = (url: string, page?: Page) => browser.open(url, page);

  it('renders every page in English and in French, with the lang attribute and translated headings', async () => {
    const pages: [string, string, string | RegExp, string | RegExp][] = [
      ['home', '/', 'Open City Platform', 'Plateforme urbaine ouverte'],
      [
        'technologies',
        '/technologies',
        'Technology in public space',
        'Technologies dans l’espace public',
      ],
      [
        'technology',
        `/technologies/${technologyId}`,
        'Traffic counting camera',
        'Caméra de comptage (Traffic counting camera)',
      ],
      [
        'sign',
        `/technologies/${technologyId}/sign`,
        /Technology in use here/,
        /Technologie utilisée ici/,
      ],
      ['algorithms', '/algorithms', 'Algorithm register', 'Registre des algorithmes'],
      [
        'algorithm',
        `/algorithms/${algorithmId}`,
        'Pothole repair prioritisation',
        'Pothole repair prioritisation',
      ],
      ['consultations', '/consultations', 'Consultations', 'Consultations'],
      [
        'consultation',
        `/consultations/${consultationId}`,
        'Cameras on Peel Street',
        'Caméras sur la rue Peel',
      ],
      ['transparency', '/transparency', 'Transparency', 'Transparence'],
      ['datasets', '/datasets', 'Data catalog', 'Catalogue de données'],
    ];
    const page = await browser.context.newPage();
    for (const [name, url, en, fr] of pages) {
      for (const [lang, heading] of [
        ['en', en],
        ['fr', fr],
      ] as const) {
        await open(`${url}${url.includes('?') ? '&' : '?'}lang=${lang}`, page);
        assert.equal(await page.getAttribute('html', 'lang'), lang, `${url} lang`);
        const h1 = (await page.textContent('h1'))!.trim();
        if (typeof heading === 'string') assert.equal(h1, heading, `${url} in ${lang}`);
        else assert.match(h1, heading);
        await shot(page, `${name}-${lang}`);
      }
    }
    await open('/technologies/tec_doesnotexist?lang=fr', page);
    assert.equal(
      (await page.textContent('h1'))!.trim(),
      'Cette page n’existe pas ou n’est pas publique.',
    );
    await page.close();
  });

  it('takes the language from the browser, and an explicit switch sticks in the URLs', async () => {
    // A second browser profile whose language is French (Accept-Language: fr-CA).
    const french = await launchBrowser(base, { locale: 'fr-CA' });
    const page = await french.context.newPage();
    await page.goto(`${base}/technologies`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    assert.equal((await page.textContent('h1'))!.trim(), 'Technologies dans l’espace public');
    // Switch to English: every link on the page now carries ?lang=en.
    await page.click('text=English');
    await page.waitForSelector('body[data-ready="true"]');
    assert.match(page.url(), /\/technologies\?lang=en$/);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.click(`a[href^="/technologies/${technologyId}"]`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(page.url(), `${base}/technologies/${technologyId}?lang=en`);
    assert.equal(
      (await page.textContent('h1'))!.trim(),
      'Traffic counting camera',
      'English despite the French browser',
    );
    await french.close();
  });

  it('technology page: offline map with one point per location, sign page with a QR code linking back', async () => {
    const page = await open(`/technologies/${technologyId}?lang=en`);
    assert.equal(await page.locator('svg.map circle').count(), 2);
    assert.equal(await page.locator('svg.map').getAttribute('role'), 'img');
    assert.ok(await page.locator('text=Kept for 30 days').count());
    await open(`/technologies/${technologyId}/sign?lang=fr`, page);
    const qr = page.locator('svg.qr');
    assert.equal(
      await qr.getAttribute('data-qr-url'),
      `${base}/technologies/${technologyId}?lang=fr`,
    );
    assert.ok((await qr.locator('path, rect').count()) > 0, 'the QR code is drawn');
    await open(`/algorithms/${algorithmId}?lang=fr`, page);
    const facts = (await page.textContent('dl.facts'))!;
    assert.match(facts, /Risque minimal/, 'enumerated values in the page language');
    assert.match(facts, /À base de règles/);
    assert.equal(await page.locator('dd[lang="en"]', { hasText: 'Call 311.' }).count(), 1);
    await open(`/technologies/${technologyId}/sign?lang=fr`, page);
    await page.emulateMedia({ media: 'print' });
    await shot(page, 'sign-print-fr');
    assert.equal(
      await page.locator('header.site').isVisible(),
      false,
      'no site header on the printed sign',
    );
    await page.close();
  });

  it('a resident signs in and comments on a consultation in French', async () => {
    const page = await browser.context.newPage();
    const target = `/consultations/${consultationId}?lang=fr`;
    await open(target, page);
    await page.click('text=Connectez-vous pour commenter');
    await page.waitForSelector('#username');
    await shot(page, 'sign-in');
    await page.fill('#username', 'rita');
    await page.fill('#password', 'a long local password');
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}${target}`);
    await page.waitForSelector('body[data-ready="true"]');
    const box = page.getByLabel('Votre commentaire');
    await box.fill('Je préfère des capteurs sans image, merci.');
    await page.click('text=Publier le commentaire');
    await page.waitForSelector('li.comment[lang="fr"]');
    assert.match((await page.textContent('li.comment'))!, /Je préfère des capteurs sans image/);
    assert.match((await page.textContent('li.comment'))!, /votre commentaire/);
    await shot(page, 'consultation-commented-fr');
    const api = (await (await fetch(`${base}/api/v1/consultations/${consultationId}`)).json()) as {
      comments: { lang: string }[];
    };
    assert.equal(api.comments.length, 1);
    assert.equal(api.comments[0]!.lang, 'fr');
    await page.close();
  });

  it('transparency: lists the access with its proof, and the verify action recomputes the tree head', async () => {
    const page = await open('/transparency?lang=en');
    const row = page.locator('tbody tr', { hasText: datasetId });
    assert.match((await row.textContent())!, /research/);
    assert.match((await row.textContent())!, /research\s*1\s*3\s*#/);
    assert.equal(await row.locator(`a[href*="index=${accessIndex}"]`).count(), 1);
    await page.click('text=Verify in this browser');
    await page.waitForSelector('[data-verified="true"]', { timeout: 15_000 });
    const size = Number(await page.getAttribute('[data-tree-size]', 'data-tree-size'));
    assert.ok(size > accessIndex);
    await page.waitForSelector(`#proof-${accessIndex}.ok`, { timeout: 10_000 });
    await shot(page, 'transparency-verified-en');
    // The row links to the dataset's catalog page.
    await row.locator(`a[href^="/datasets/"]`).click();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(page.url(), `${base}/datasets/${datasetId}?lang=en`);
    assert.match((await page.textContent('main'))!, /restricted/);
    await shot(page, 'dataset-en');
    await page.close();
  });

  it('works on a phone-size viewport without horizontal scrolling', async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 360, height: 740 });
    for (const url of [
      '/?lang=fr',
      `/technologies/${technologyId}?lang=fr`,
      '/transparency?lang=fr',
      `/consultations/${consultationId}?lang=fr`,
    ]) {
      await open(url, page);
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      assert.ok(overflow <= 0, `${url} scrolls sideways by ${overflow}px`);
    }
    await shot(page, 'phone-consultation-fr');
    await page.close();
  });

  it('accessibility basics: keyboard focus, skip link, labelled controls, one h1, nothing from elsewhere', async () => {
    const page = await open(`/consultations/${consultationId}?lang=en`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.className'), 'skip');
    assert.ok(
      await page.evaluate<boolean>('document.activeElement.getBoundingClientRect().left >= 0'),
      'the skip link shows when focused',
    );
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate<{ tag: string; outline: string }>(`({
        tag: document.activeElement.tagName,
        outline: getComputedStyle(document.activeElement).outlineStyle,
      })`);
    assert.notEqual(focused.tag, 'BODY');
    assert.equal(focused.outline, 'solid', 'focus is visible');
    for (const url of ['/', '/technologies', `/consultations/${consultationId}`, '/transparency']) {
      await open(`${url}?lang=en`, page);
      const unlabelled = await page.evaluate<number>(
        `[...document.querySelectorAll('input, textarea, select, button')].filter(
            (e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()),
          ).length`,
      );
      assert.equal(unlabelled, 0, `${url} has unlabelled controls`);
      assert.equal(await page.locator('h1').count(), 1, `${url} has one h1`);
      assert.equal(
        await page.locator('nav[aria-label] a[aria-current="page"]').count(),
        url === '/' ? 0 : 1,
      );
    }
    assert.deepEqual(browser.offOrigin, [], 'no request left the node');
    assert.deepEqual(browser.pageErrors, [], 'no script errors or CSP violations');
    await page.close();
  });
});
