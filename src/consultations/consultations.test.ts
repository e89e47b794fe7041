import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminToken, bearer, createClient, TestClock } from '../identity/identity.testing.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  createOrganisation,
  queuedEvents,
  signedInPerson,
  startRegisterNode,
} from '../register/register.testing.js';

const opening = (closesAt: string) => ({
  topic: 'technology',
  relatedId: 'tec_abc123',
  subject: { en: 'Cameras on Peel Street', fr: 'Caméras sur la rue Peel' },
  description: {
    en: 'Should we count traffic with cameras?',
    fr: 'Faut-il compter la circulation avec des caméras?',
  },
  closesAt,
});

for (const backend of testBackends()) {
  describe(`consultations (${backend})`, () => {
    let node: TestNode;
    let admin: string;
    let steward: Awaited<ReturnType<typeof createClient>>;
    let otherSteward: Awaited<ReturnType<typeof createClient>>;
    let resident: Awaited<ReturnType<typeof signedInPerson>>;
    const clock = new TestClock(Date.parse('2026-11-20T10:00:00Z'));

    before(async () => {
      node = await startRegisterNode(backend, clock);
      admin = await adminToken(node);
      const city = await createOrganisation(node, admin, 'Mobility department');
      const residents = await createOrganisation(node, admin, 'Residents');
      steward = await createClient(node, admin, ['steward'], city);
      otherSteward = await createClient(node, admin, ['steward']);
      resident = await signedInPerson(node, admin, residents, 'resident.rita');
    });
    after(() => node?.close());

    const post = (url: string, headers: Record<string, string>, payload: object) =>
      node.app.inject({ method: 'POST', url, headers, payload });
    const get = (url: string, headers: Record<string, string> = {}) =>
      node.app.inject({ method: 'GET', url, headers });

    it('open, comment in French, moderate with a reason, decide: all public, changes in the ledger', async () => {
      const opened = await post(
        '/api/v1/consultations',
        bearer(steward.token),
        opening('2026-12-20T00:00:00Z'),
      );
      assert.equal(opened.statusCode, 201, opened.body);
      const id = opened.json().id as string;
      assert.equal(opened.json().status, 'open');
      assert.equal((await queuedEvents(node, 'consultation.opened'))[0]!.subject.id, id);

      // Only a signed-in person with the session's CSRF token may comment.
      const comment = { body: 'Je préfère des capteurs sans image.', lang: 'fr' };
      assert.equal(
        (await post(`/api/v1/consultations/${id}/comments`, {}, comment)).statusCode,
        401,
      );
      assert.equal(
        (await post(`/api/v1/consultations/${id}/comments`, { cookie: resident.cookie }, comment))
          .statusCode,
        403,
      );
      assert.equal(
        (await post(`/api/v1/consultations/${id}/comments`, bearer(steward.token), comment))
          .statusCode,
        403,
        'API clients are not residents',
      );
      const left = await post(`/api/v1/consultations/${id}/comments`, resident.headers, comment);
      assert.equal(left.statusCode, 201, left.body);
      assert.equal(left.json().mine, true);
      clock.advance(60);
      const second = await post(`/api/v1/consultations/${id}/comments`, resident.headers, {
        body: 'Spam spam spam',
        lang: 'en',
      });
      assert.equal(second.statusCode, 201);

      const detail = (await get(`/api/v1/consultations/${id}`)).json();
      assert.equal(detail.commentCount, 2);
      assert.equal(detail.comments[0].body, 'Je préfère des capteurs sans image.');
      assert.equal(detail.comments[0].lang, 'fr');
      assert.equal(detail.comments[0].mine, false);
      assert.ok(!JSON.stringify(detail).includes(resident.personId), 'authors are not published');
      assert.equal(
        (await get(`/api/v1/consultations/${id}`, { cookie: resident.cookie })).json().comments[0]
          .mine,
        true,
      );

      // Moderation: only the organisation that opened it; the reason is published.
      const moderation = { action: 'hide', reason: 'spam', note: 'repeated text' };
      const commentUrl = `/api/v1/consultations/${id}/comments/${second.json().id}/moderation`;
      assert.equal(
        (await post(commentUrl, bearer(otherSteward.token), moderation)).statusCode,
        403,
      );
      assert.equal((await post(commentUrl, resident.headers, moderation)).statusCode, 403);
      assert.equal(
        (await post(commentUrl, bearer(steward.token), { action: 'hide' })).statusCode,
        400,
      );
      const hidden = await post(commentUrl, bearer(steward.token), moderation);
      assert.equal(hidden.statusCode, 200, hidden.body);
      const afterModeration = (await get(`/api/v1/consultations/${id}`)).json();
      assert.equal(afterModeration.commentCount, 1);
      assert.equal(afterModeration.comments[1].body, null);
      assert.equal(afterModeration.comments[1].moderation.reason, 'spam');
      const moderated = await queuedEvents(node, 'consultation.comment_moderated');
      assert.deepEqual(moderated[0]!.details, {
        commentId: second.json().id,
        action: 'hide',
        reason: 'spam',
      });

      // Decision.
      const decision = {
        outcome: 'approved_with_changes',
        reasons: { en: 'Sensors without images only.', fr: 'Seulement des capteurs sans image.' },
      };
      const decisionUrl = `/api/v1/consultations/${id}/decision`;
      assert.equal((await post(decisionUrl, bearer(otherSteward.token), decision)).statusCode, 403);
      const decided = await post(decisionUrl, bearer(steward.token), decision);
      assert.equal(decided.statusCode, 200, decided.body);
      assert.equal(decided.json().status, 'decided');
      assert.equal(decided.json().decision.reasons.fr, 'Seulement des capteurs sans image.');
      assert.equal((await post(decisionUrl, bearer(steward.token), decision)).statusCode, 409);
      assert.equal(
        (await queuedEvents(node, 'consultation.decided'))[0]!.details.outcome,
        'approved_with_changes',
      );
      assert.equal(
        (await post(`/api/v1/consultations/${id}/comments`, resident.headers, comment)).statusCode,
        409,
      );
    });

    it('closes at its closing date and refuses bad openings', async () => {
      const past = await post(
        '/api/v1/consultations',
        bearer(steward.token),
        opening('2026-11-01T00:00:00Z'),
      );
      assert.equal(past.statusCode, 400);
      assert.equal(
        (await post('/api/v1/consultations', resident.headers, opening('2026-12-01T00:00:00Z')))
          .statusCode,
        403,
      );
      const noFrench = { ...opening('2026-12-01T00:00:00Z'), subject: { en: 'Only English' } };
      assert.equal(
        (await post('/api/v1/consultations', bearer(steward.token), noFrench)).statusCode,
        400,
      );
      const id = (
        await post('/api/v1/consultations', bearer(steward.token), opening('2026-11-21T10:00:00Z'))
      ).json().id;
      clock.advance(2 * 86400);
      assert.equal((await get(`/api/v1/consultations/${id}`)).json().status, 'closed');
      const late = await post(`/api/v1/consultations/${id}/comments`, resident.headers, {
        body: 'Trop tard?',
        lang: 'fr',
      });
      assert.equal(late.statusCode, 409);
      const list = (await get('/api/v1/consultations')).json();
      assert.ok(list.total >= 2);
      assert.equal((await get('/api/v1/consultations/con_missing')).statusCode, 404);
    });
  });
}
