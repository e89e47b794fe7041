/**
 * The steward and consumer consoles end to end in headless Chromium, every step through
 * the portal's pages: a steward signs in through the node's own OpenID Provider and
 * creates a restricted dataset (and an open one) with the policy form, whose plain-language
 * rendering shows as it is filled in; a consumer signs in and asks for access; the steward
 * approves it with terms; the consumer makes an API client (its secret shown once) and
 * reads the data with it over plain HTTP; the transparency page lists that access and its
 * proof verifies in the browser; the open dataset's page previews its data as a table and
 * an offline map. Screenshots of each step go to test-artifacts/portal/console-*.png.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { adminToken, createClient } from '../identity/identity.testing.js';
import { call } from '../governance/governance.testing.js';
import { waitForTree } from '../ledger/testing.js';
import type { TestNode } from '../platform/testing/node.js';
import { createOrganisation, sampleTechnology } from '../register/register.testing.js';
import {
  ARTIFACTS,
  browserBackend as backend,
  createPerson,
  launchBrowser,
  screenshot as shot,
  settled,
  signIn,
  skipWithoutChromium,
  startPortalNode,
  type BrowserSession,
} from './browser.testing.js';

const PASSWORD = 'a long local password';
const PARKING = [1, 2, 3].map((n) => `urn:ngsi-ld:ParkingSpot:peel-${n}`);
const STATIONS = [
  { id: 'urn:ngsi-ld:BikeStation:peel', lon: -73.5747, lat: 45.5005 },
  { id: 'urn:ngsi-ld:BikeStation:mcgill', lon: -73.5771, lat: 45.5048 },
  { id: 'urn:ngsi-ld:BikeStation:berri', lon: -73.5617, lat: 45.5152 },
];

describe(`consoles in headless Chromium (${backend})`, { skip: skipWithoutChromium }, () => {
  let node: TestNode;
  let base: string;
  let steward: BrowserSession;
  let consumer: BrowserSession;
  let visitor: BrowserSession;
  let restrictedId: string;
  let openId: string;
  let consumerOrg: string;
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    ({ node, base } = await startPortalNode());
    const admin = await adminToken(node);
    const city = await createOrganisation(node, admin, 'Mobility department');
    await createPerson(node, admin, {
      organisationId: city,
      username: 'sam',
      password: PASSWORD,
      roles: ['steward'],
    });
    await createPerson(node, admin, {
      organisationId: city,
      username: 'pat',
      password: PASSWORD,
      roles: ['publisher'],
    });
    const researchers = await createOrganisation(node, admin, 'Urban research lab');
    consumerOrg = researchers;
    await createPerson(node, admin, {
      organisationId: researchers,
      username: 'cora',
      password: PASSWORD,
      roles: ['consumer'],
    });
    // The city's sensors write their data (what devices do, not the consoles).
    const sensors = await createClient(node, admin, ['publisher'], city);
    const created = await call(
      node,
      { token: sensors.token, organisationId: city },
      'POST',
      '/ngsi-ld/v1/entityOperations/create',
      [
        ...PARKING.map((id, n) => ({
          id,
          type: 'ParkingSpot',
          status: { type: 'Property', value: n % 2 ? 'occupied' : 'free' },
        })),
        ...STATIONS.map((s, n) => ({
          id: s.id,
          type: 'BikeStation',
          availableBikes: { type: 'Property', value: 5 + n },
          location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [s.lon, s.lat] } },
        })),
      ],
    );
    assert.equal(created.statusCode, 201, created.body);
    steward = await launchBrowser(base);
    consumer = await launchBrowser(base);
    // The consumer's browser lets the page use the clipboard, as a person would allow it.
    await consumer.context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: base,
    });
  });

  after(async () => {
    for (const session of [steward, consumer, visitor]) await session?.close();
    await node?.close();
  });

  /** Fills and submits the steward's dataset form; returns the new dataset's id. */
  async function createDatasetInConsole(
    page: Page,
    fields: { title: string; types: string; classification: string; purposes: string[] },
    screenshot: string,
  ): Promise<string> {
    await page.click('text=New dataset');
    await page.waitForSelector('#dataset-form');
    await page.waitForSelector('#policy-preview ul[data-valid="true"]', { state: 'attached' });
    await page.fill('#ds-title', fields.title);
    await page.fill('#ds-description', `${fields.title}, every few minutes.`);
    await page.fill('#ds-types', fields.types);
    await page.selectOption('#ds-classification', fields.classification);
    for (const purpose of fields.purposes) {
      await page.check(`input[name=purpose][value="${purpose}"]`);
    }
    await page.uncheck('input[name=commercial]');
    const preview = page.locator('#policy-preview ul[data-valid="true"]');
    const expected = [
      fields.purposes.length
        ? `You may use this data only for: ${fields.purposes.join(', ')}.`
        : 'You may use this data for any purpose in the city vocabulary.',
      'Commercial use is not allowed.',
    ];
    const lines = () => preview.locator('li').allTextContents();
    assert.deepEqual(
      await settled(lines, (l) => JSON.stringify(l) === JSON.stringify(expected)),
      expected,
      'the plain-language rendering follows the form',
    );
    await shot(page, screenshot);
    await page.click('text=Create the dataset');
    await page.waitForURL(/\/console\/steward\/datasets\/[^/?]+\?.*saved=1/);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.textContent('main .live'))!, /Saved/);
    return decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);
  }

  it('a steward signs in and creates a restricted dataset with the policy form', async () => {
    const page = await steward.open('/console/steward?lang=en');
    assert.match((await page.textContent('main'))!, /sign in/i);
    await page.click('main a.button');
    await signIn(page, 'sam', PASSWORD);
    await page.waitForURL(`${base}/console/steward?lang=en`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal((await page.textContent('h1'))!.trim(), 'Steward console');
    await shot(page, 'console-steward-signed-in');

    restrictedId = await createDatasetInConsole(
      page,
      {
        title: 'Parking sensors on Peel Street',
        types: 'ParkingSpot',
        classification: 'restricted',
        purposes: ['research'],
      },
      'console-steward-policy-form',
    );
    // The edit page reads the stored policy back into the form.
    assert.equal(await page.inputValue('#ds-title'), 'Parking sensors on Peel Street');
    assert.equal(await page.inputValue('#ds-classification'), 'restricted');
    assert.ok(await page.isChecked('input[name=purpose][value="research"]'));
    assert.equal(await page.isChecked('input[name=commercial]'), false);
    await shot(page, 'console-steward-dataset-saved');
    // Editing keeps what the form does not show, and the types as they were.
    await page.fill('#ds-description', 'Occupancy of the parking spaces on Peel Street.');
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'PUT' && r.url().endsWith(`/api/v1/datasets/${restrictedId}`),
    );
    await page.click('#dataset-form button[type=submit]');
    assert.equal((await saved).status(), 200);
    await page.waitForSelector('#dataset-form .live.ok');
    const stored = (await (await fetch(`${base}/api/v1/datasets/${restrictedId}`)).json()) as {
      classification: string;
      catalog: { description: string };
      types: string[];
      policyText: string[];
    };
    assert.equal(stored.classification, 'restricted');
    assert.equal(stored.catalog.description, 'Occupancy of the parking spaces on Peel Street.');
    assert.match(
      stored.types.join(),
      /^https:\/\/uri\.etsi\.org\/ngsi-ld\/default-context\/ParkingSpot$/,
    );
    assert.deepEqual(stored.policyText, [
      'You may use this data only for: research.',
      'Commercial use is not allowed.',
    ]);

    await steward.open('/console/steward?lang=en', page);
    openId = await createDatasetInConsole(
      page,
      { title: 'Bike stations', types: 'BikeStation', classification: 'open', purposes: [] },
      'console-steward-open-dataset',
    );
    await page.close();
  });

  it('a consumer signs in and asks for access in the consumer console', async () => {
    const page = await consumer.open('/console?lang=en');
    await page.click('main a.button');
    await signIn(page, 'cora', PASSWORD);
    await page.waitForURL(`${base}/console?lang=en`);
    await page.waitForSelector('body[data-ready="true"]');
    const options = await page
      .locator('#rq-dataset option')
      .evaluateAll((o) => o.map((e) => e.getAttribute('value')));
    assert.deepEqual(options, [restrictedId], 'open data needs no request');
    await page.selectOption('#rq-dataset', restrictedId);
    await page.selectOption('#rq-purpose', 'research');
    await page.fill('#rq-duration', '30');
    await page.fill('#rq-justification', 'Study of parking turnover on Peel Street.');
    await page.click('text=Send the request');
    await page.waitForSelector('#request-form .live.ok');
    const row = page.locator(`#my-requests tr[data-dataset="${restrictedId}"]`);
    await row.waitFor();
    assert.match(
      (await row.textContent())!,
      /Parking sensors on Peel Street[\s\S]*research[\s\S]*30 days[\s\S]*Pending/,
    );
    await shot(page, 'console-consumer-requested');
    await page.close();
  });

  it('the steward approves the request with terms', async () => {
    const page = await steward.open('/console/steward?lang=en');
    const card = page.locator('li[data-request]', { hasText: 'Parking sensors on Peel Street' });
    await card.waitFor();
    assert.match((await card.textContent())!, /Study of parking turnover/);
    assert.match((await card.textContent())!, new RegExp(consumerOrg));
    const until = new Date(Date.now() + 60 * 86400_000).toISOString().slice(0, 10);
    await card.locator('input[name=until]').fill(until);
    await card.locator('input[name=quota]').fill('1000');
    await card.locator('input[name=perThousand]').fill('2');
    await card.screenshot({ path: path.join(ARTIFACTS, 'console-steward-approve.png') });
    // By keyboard: the consoles work without a mouse.
    await card.locator('button', { hasText: 'Approve' }).press('Enter');
    const grant = page.locator(`#grants tr[data-grant][data-dataset="${restrictedId}"]`);
    const failure = page.locator('#requests .live.bad');
    await grant.or(failure).waitFor();
    assert.equal(await failure.count(), 0, (await failure.allTextContents()).join());
    assert.match((await grant.textContent())!, /research[\s\S]*1000[\s\S]*Active/);
    assert.equal(await page.locator('li[data-request] form.approve').count(), 0, 'none pending');
    assert.match((await page.textContent('#requests'))!, /Approved/);
    assert.doesNotMatch((await page.textContent('main'))!, /Loading/);
    await shot(page, 'console-steward-approved');
    const [stored] = (
      await call(
        node,
        { token: await adminToken(node), organisationId: null },
        'GET',
        '/api/v1/grants',
      )
    ).json() as { validUntil: string; quotaPerDay: number; fee: { perThousandEntities: number } }[];
    assert.equal(stored!.validUntil.slice(0, 10), until);
    assert.equal(stored!.quotaPerDay, 1000);
    assert.equal(stored!.fee.perThousandEntities, 2);
    await page.close();
  });

  it('the consumer makes an API client (secret shown once) and reads the data with it', async () => {
    const page = await consumer.open('/console?lang=en');
    const grant = page.locator(`#my-grants tr[data-grant][data-dataset="${restrictedId}"]`);
    await grant.waitFor();
    assert.match((await grant.textContent())!, /Active/);
    await page.fill('#cl-name', 'Research pipeline');
    await page.click('text=Create an API client');
    await page.waitForSelector('#secret-value');
    clientId = (await page.textContent('#new-client-id'))!.trim();
    clientSecret = await page.inputValue('#secret-value');
    assert.match(clientId, /^cli_/);
    assert.ok(clientSecret.length >= 20);
    await page.locator(`#clients li[data-client="${clientId}"]`).waitFor();
    await page.click('#new-secret button');
    const copied = () => page.textContent('#copy-status').then((text) => text!.trim());
    assert.equal(await settled(copied, (text) => text !== ''), 'Copied.');
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), clientSecret);
    await shot(page, 'console-consumer-client-secret');

    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.locator(`#clients li[data-client="${clientId}"]`).waitFor();
    assert.equal(await page.locator('#secret-value').count(), 0, 'no secret after reload');
    assert.ok(!(await page.content()).includes(clientSecret), 'the secret is not on the page');
    const listed = await page.evaluate(async () => (await fetch('/api/v1/me/clients')).text());
    assert.ok(!listed.includes(clientSecret), 'nor in what the page reads');
    await shot(page, 'console-consumer-client-listed');

    // Rotation shows the new secret once; the old one stops working.
    await page.locator(`#clients li[data-client="${clientId}"] button`).click();
    await page.waitForSelector(`#new-secret [data-client="${clientId}"]`);
    const rotated = await page.inputValue('#secret-value');
    assert.notEqual(rotated, clientSecret);
    assert.equal((await token(clientId, clientSecret)).status, 401);
    clientSecret = rotated;

    const { status, body } = await token(clientId, clientSecret);
    assert.equal(status, 200, JSON.stringify(body));
    const read = await fetch(`${base}/ngsi-ld/v1/entities?type=ParkingSpot`, {
      headers: { authorization: `Bearer ${body.access_token}`, 'ocp-purpose': 'research' },
    });
    assert.equal(read.status, 200, await read.clone().text());
    const entities = (await read.json()) as { id: string }[];
    assert.deepEqual(entities.map((e) => e.id).sort(), PARKING);
    // Without the purpose of its grant, the same client reads nothing.
    const noPurpose = await fetch(`${base}/ngsi-ld/v1/entities?type=ParkingSpot`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    assert.deepEqual(noPurpose.status === 200 ? await noPurpose.json() : [], []);

    await node.app.governance.meter.flush();
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    const usage = page.locator(`#statement tr[data-dataset="${restrictedId}"]`);
    await usage.waitFor();
    assert.match((await usage.textContent())!, /research\s*1\s*3/);
    const month = new Date().toISOString().slice(0, 7);
    assert.equal(
      await page
        .locator(`#statement-links a[href="/api/v1/usage/statements/${month}?format=csv"]`)
        .count(),
      1,
    );
    assert.doesNotMatch((await page.textContent('main'))!, /Loading/);
    await shot(page, 'console-consumer-usage');
    await page.close();
  });

  it('the transparency page shows that access, and its proof verifies in the browser', async () => {
    const { rows } = await node.platform.db.query<{ n: number }>(
      'SELECT ((SELECT count(*) FROM ledger_queue) + (SELECT count(*) FROM ledger_entries))::int AS n',
    );
    await waitForTree(node, rows[0]!.n);
    const { entries } = (await (
      await fetch(`${base}/ledger/entries?type=data.accessed`)
    ).json()) as { entries: { index: number }[] };
    assert.equal(entries.length, 1, 'one access entry');
    const index = entries[0]!.index;
    visitor = await launchBrowser(base);
    const page = await visitor.open('/transparency?lang=en');
    const row = page.locator('tbody tr', { hasText: restrictedId });
    assert.match((await row.textContent())!, /research\s*1\s*3\s*#/);
    assert.equal(await row.locator(`a[href*="index=${index}"]`).count(), 1);
    await page.click('text=Verify in this browser');
    await page.waitForSelector('[data-verified="true"]', { timeout: 15_000 });
    await page.waitForSelector(`#proof-${index}.ok`, { timeout: 10_000 });
    await shot(page, 'console-transparency-verified');
    await page.close();
  });

  it('dataset pages: open data previews as a table and an offline map; restricted data does not', async () => {
    const page = await visitor.open(`/datasets/${openId}?lang=en`);
    assert.equal((await page.textContent('h1'))!.trim(), 'Bike stations');
    const rows = page.locator('section.preview tbody tr');
    assert.equal(await rows.count(), STATIONS.length);
    for (const s of STATIONS) {
      assert.equal(await rows.filter({ hasText: s.id }).count(), 1, s.id);
    }
    const map = page.locator('section.preview svg.map');
    assert.equal(await map.getAttribute('role'), 'img');
    assert.equal(await map.locator('circle').count(), STATIONS.length);
    // The table says which point is which: row n's number is the label of its point.
    for (const s of STATIONS) {
      const n = (await rows.filter({ hasText: s.id }).locator('td.pin').textContent())!.trim();
      const point = map.locator('g', { has: page.locator(`text="${n}"`) });
      assert.equal(await point.locator('title').textContent(), s.id);
    }
    await shot(page, 'console-dataset-open-preview');

    await visitor.open(`/datasets/${restrictedId}?lang=en`, page);
    assert.equal((await page.textContent('h1'))!.trim(), 'Parking sensors on Peel Street');
    const main = (await page.textContent('main'))!;
    assert.match(main, /You may use this data only for: research\./);
    assert.ok(!PARKING.some((id) => main.includes(id)), 'no restricted entity is shown');
    await shot(page, 'console-dataset-restricted');
    await page.close();
  });

  it('in French: a refused purpose is explained, the steward denies with a reason and revokes, the client reads no more', async () => {
    const page = await consumer.open('/console?lang=fr');
    assert.equal((await page.textContent('h1'))!.trim(), 'Console d’accès aux données');
    await shot(page, 'console-consumer-fr');
    // A purpose the policy does not permit: the node's problem+json reason is shown.
    await page.selectOption('#rq-dataset', restrictedId);
    await page.selectOption('#rq-purpose', 'journalism');
    await page.fill('#rq-justification', 'Un article sur le stationnement.');
    await page.click('text=Envoyer la demande');
    const refused = page.locator('#request-form .live.bad');
    await refused.waitFor();
    assert.equal(await refused.getAttribute('role'), 'alert');
    assert.match((await refused.textContent())!, /does not permit the purpose journalism/);
    expectedFailure(consumer, /^403 .*\/access-requests$/);
    await page.selectOption('#rq-purpose', 'research');
    await page.fill('#rq-duration', '7');
    await page.click('text=Envoyer la demande');
    await page.waitForSelector('#request-form .live.ok');
    assert.equal(await page.locator('#my-requests tr', { hasText: 'En attente' }).count(), 1);

    const desk = await steward.open('/console/steward?lang=en');
    const pending = desk.locator('li[data-request]', { has: desk.locator('form.deny') });
    await pending.locator('input[name=reason]').fill('Already covered by your current grant.');
    await pending.locator('button', { hasText: 'Deny' }).click();
    await desk.locator('li[data-request]', { hasText: 'Denied' }).waitFor();
    const grant = desk.locator(`#grants tr[data-grant][data-dataset="${restrictedId}"]`);
    await grant.locator('input[name=reason]').fill('The study is finished.');
    await grant.locator('button', { hasText: 'Revoke' }).click();
    await desk.locator('#grants tr', { hasText: 'Revoked' }).waitFor();
    assert.match((await grant.textContent())!, /Revoked — The study is finished\./);
    await shot(desk, 'console-steward-denied-revoked');
    await desk.close();

    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    const denied = page.locator('#my-requests tr', { hasText: 'Refusée' });
    await denied.waitFor();
    assert.match((await denied.textContent())!, /Already covered by your current grant\./);
    const revoked = page.locator(`#my-grants tr[data-dataset="${restrictedId}"]`);
    await revoked.waitFor();
    assert.match((await revoked.textContent())!, /Révoquée — The study is finished\./);
    assert.match((await page.textContent(`#clients li[data-client="${clientId}"]`))!, / actif /);
    await shot(page, 'console-consumer-revoked-fr');
    await page.close();

    const { body } = await token(clientId, clientSecret);
    const read = await fetch(`${base}/ngsi-ld/v1/entities?type=ParkingSpot`, {
      headers: { authorization: `Bearer ${body.access_token}`, 'ocp-purpose': 'research' },
    });
    const after = read.status === 200 ? ((await read.json()) as unknown[]) : [];
    assert.deepEqual(after, [], `nothing is readable after the revocation (${read.status})`);
  });

  it('steward register and consultations: an entry saved as JSON, a consultation opened, moderated and decided', async () => {
    const page = await steward.open('/console/steward/register?lang=en');
    const tech = page.locator('#technology-form');
    await page.locator('#h-technology ~ p button', { hasText: 'New entry' }).click();
    assert.match(await tech.locator('textarea').inputValue(), /"accountable"/, 'a template');
    // The template as it is is incomplete: the node says what is missing.
    await tech.locator('button[type=submit]').click();
    await tech.locator('.live.bad').waitFor();
    assert.match((await tech.locator('.live.bad').textContent())!, /\//, 'field paths shown');
    expectedFailure(steward, /^400 .*\/api\/v1\/technologies$/);
    await tech.locator('textarea').fill(JSON.stringify(sampleTechnology()));
    await tech.locator('button[type=submit]').click();
    await tech.locator('.live.ok').waitFor();
    const technologyId = /\((tec_[^)]+)\)/.exec(
      (await tech.locator('.live.ok').textContent())!,
    )![1]!;
    await shot(page, 'console-steward-register');

    await steward.open('/console/steward/consultations?lang=en', page);
    await page.fill('#con-related', technologyId);
    await page.fill('#con-subject-en', 'Counting cameras on Peel Street');
    await page.fill('#con-subject-fr', 'Caméras de comptage sur la rue Peel');
    await page.fill('#con-description-en', 'Should the city count traffic with cameras?');
    await page.fill(
      '#con-description-fr',
      'La ville devrait-elle compter la circulation par caméra?',
    );
    const closes = new Date(Date.now() + 14 * 86400_000).toISOString().slice(0, 16);
    await page.fill('#con-closes', closes);
    await page.click('text=Open the consultation');
    await page.waitForURL(/\/consultations\/con_[^/?]+/);
    await page.waitForSelector('body[data-ready="true"]');
    const consultationId = new URL(page.url()).pathname.split('/').at(-1)!;
    assert.equal((await page.textContent('h1'))!.trim(), 'Counting cameras on Peel Street');

    // A signed-in person of another organisation comments, in French.
    const reader = await consumer.open(`/consultations/${consultationId}?lang=fr`);
    await reader.getByLabel('Votre commentaire').fill('Hors sujet : quand ouvre la piscine?');
    await reader.click('text=Publier le commentaire');
    await reader.waitForSelector('li.comment[lang="fr"]');

    await steward.open('/console/steward/consultations?lang=en', page);
    const card = page.locator(`li[data-consultation="${consultationId}"]`);
    const comment = card.locator('li.comment');
    await comment.locator('select').selectOption('off_topic');
    await comment.locator('button', { hasText: 'Hide comment' }).click();
    await card.locator('li.comment.hidden').waitFor();
    await card.locator('select[name=outcome]').selectOption('approved_with_changes');
    await card.locator('textarea[name=reasonsEn]').fill('Counting only, no images kept.');
    await card.locator('textarea[name=reasonsFr]').fill('Comptage seulement, aucune image gardée.');
    await card.locator('button', { hasText: 'Publish' }).click();
    await card.locator('select[name=outcome]').waitFor({ state: 'detached' });
    await card.locator('p', { hasText: 'Decided' }).waitFor();
    await shot(page, 'console-steward-consultations');

    await consumer.open(`/consultations/${consultationId}?lang=fr`, reader);
    assert.match((await reader.textContent('#decision'))!, /Approuvé avec modifications/);
    assert.match((await reader.textContent('main'))!, /Comptage seulement, aucune image gardée\./);
    assert.match((await reader.textContent('li.comment.hidden'))!, /hors sujet/);
    assert.doesNotMatch((await reader.textContent('main'))!, /piscine/);
    await shot(reader, 'console-consultation-decided-fr');
    await reader.close();
    await page.close();
  });

  it('a publisher manages datasets but is not offered the steward’s decisions', async () => {
    const { body } = await token(clientId, clientSecret);
    const asked = await fetch(`${base}/api/v1/datasets/${restrictedId}/access-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${body.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        purpose: 'research',
        durationDays: 14,
        commercial: false,
        justification: 'A follow-up study.',
      }),
    });
    assert.equal(asked.status, 201, await asked.clone().text());
    const page = await visitor.open('/console/steward?lang=en');
    await page.click('main a.button');
    await signIn(page, 'pat', PASSWORD);
    await page.waitForURL(`${base}/console/steward?lang=en`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(
      await page
        .locator('section[aria-labelledby="h-datasets"] h3', {
          hasText: 'Parking sensors on Peel Street',
        })
        .count(),
      1,
    );
    await page.locator('li[data-request]', { hasText: 'A follow-up study.' }).waitFor();
    assert.equal(await page.locator('form.approve, form.deny').count(), 0, 'no decision forms');
    assert.equal(await page.locator('#grants form').count(), 0, 'no revoke form');
    assert.match((await page.textContent('#steward-decides'))!, /decided by a data steward/);
    assert.equal(await page.locator('nav.subnav a', { hasText: 'Register entries' }).count(), 0);
    await shot(page, 'console-publisher');
    await visitor.open('/console/steward/register?lang=en', page);
    assert.match((await page.textContent('main'))!, /This page is for data stewards/);
    // The steward still has the request to decide.
    const desk = await steward.open('/console/steward?lang=en');
    await desk
      .locator('li[data-request]', { hasText: 'A follow-up study.' })
      .locator('form.approve')
      .waitFor();
    await desk.close();
    await page.close();
  });

  it('console pages: one h1, every control labelled, in English and French', async () => {
    for (const [session, urls] of [
      [steward, ['/console/steward', `/console/steward/datasets/${restrictedId}`]],
      [consumer, ['/console']],
    ] as const) {
      const page = await session.context.newPage();
      for (const url of urls) {
        for (const lang of ['en', 'fr']) {
          await session.open(`${url}?lang=${lang}`, page);
          await page.waitForSelector('#policy-preview li, #my-grants tr, #grants tr');
          assert.equal(await page.getAttribute('html', 'lang'), lang);
          assert.equal(await page.locator('h1').count(), 1, `${url} has one h1`);
          const unlabelled = await page.evaluate<string[]>(
            `[...document.querySelectorAll('input:not([type=hidden]), textarea, select, button')]
              .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
              .map((e) => e.outerHTML.slice(0, 80))`,
          );
          assert.deepEqual(unlabelled, [], `${url}?lang=${lang} has unlabelled controls`);
        }
      }
      // On a phone: tables scroll in their own box, the page does not scroll sideways.
      await page.setViewportSize({ width: 360, height: 740 });
      for (const url of urls) {
        await session.open(`${url}?lang=fr`, page);
        await page.waitForSelector('#policy-preview li, #my-grants tr, #grants tr');
        const overflow = await page.evaluate<number>(
          'document.documentElement.scrollWidth - window.innerWidth',
        );
        assert.ok(overflow <= 0, `${url} scrolls sideways by ${overflow}px on a phone`);
      }
      await shot(page, `console-phone-${session === steward ? 'steward' : 'consumer'}-fr`);
      await page.close();
    }
  });

  it('nothing left the node, and no page had a script error or a failed call', () => {
    for (const session of [steward, consumer, visitor]) {
      assert.deepEqual(session.offOrigin, [], 'no request left the node');
      assert.deepEqual(session.pageErrors, [], 'no script errors or failed calls');
    }
  });

  /** Takes one failed call a step provoked on purpose off the session's error list. */
  function expectedFailure(session: BrowserSession, pattern: RegExp): void {
    const at = session.pageErrors.findIndex((e) => pattern.test(e));
    assert.ok(at >= 0, `expected a failed call matching ${pattern}: ${session.pageErrors}`);
    session.pageErrors.splice(at, 1);
  }

  async function token(id: string, secret: string) {
    const res = await fetch(`${base}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: id,
        client_secret: secret,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
});
