/** Test factories for the register and consultation tests. */
import assert from 'node:assert/strict';
import type { Clock } from '../platform/clock.js';
import type { Backend } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { consultationsFeature } from '../consultations/consultations.feature.js';
import { identityFeature } from '../identity/identity.feature.js';
import { ADMIN_SECRET, bearer } from '../identity/identity.testing.js';
import { SessionStore } from '../identity/sso/sessions.js';
import { opsFeature } from '../ops/ops.routes.js';
import { registerFeature } from './register.feature.js';

/** Without the ledger feature, so the queued events stay where the tests can read them. */
export async function startRegisterNode(backend: Backend, clock?: Clock): Promise<TestNode> {
  return startTestNode({
    backend,
    mqtt: 'off',
    listen: false,
    features: [opsFeature, identityFeature, registerFeature, consultationsFeature],
    ...(clock ? { clock } : {}),
    env: { OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET, OCP_RATE_LIMIT: 'off' },
  });
}

export async function queuedEvents(node: TestNode, type: string) {
  const { rows } = await node.platform.db.query<{ event: Record<string, unknown> }>(
    `SELECT event FROM ledger_queue WHERE event->>'type' = $1 ORDER BY id`,
    [type],
  );
  return rows.map(
    (r) =>
      r.event as {
        subject: { id: string };
        details: Record<string, unknown>;
        actor: Record<string, unknown>;
      },
  );
}

export async function createOrganisation(node: TestNode, admin: string, name: string) {
  const res = await node.app.inject({
    method: 'POST',
    url: '/api/v1/organisations',
    headers: bearer(admin),
    payload: { name, kind: 'city_department', verified: true },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

/** A person with a portal session (as after single sign-on): cookie and CSRF token. */
export async function signedInPerson(
  node: TestNode,
  admin: string,
  organisationId: string,
  username: string,
  roles: string[] = [],
) {
  const res = await node.app.inject({
    method: 'POST',
    url: '/api/v1/people',
    headers: bearer(admin),
    payload: { organisationId, username, password: 'a long local password', roles },
  });
  assert.equal(res.statusCode, 201, res.body);
  const personId = res.json().id as string;
  const sessions = new SessionStore(node.platform.db, node.platform.clock, 90 * 86400);
  const session = await sessions.create(personId);
  return {
    personId,
    cookie: `ocp_session=${session.id}`,
    csrf: session.csrfToken,
    headers: { cookie: `ocp_session=${session.id}`, 'x-csrf-token': session.csrfToken },
  };
}

export function sampleTechnology(name = 'Traffic counting camera') {
  return {
    name: { en: name, fr: `Caméra de comptage (${name})` },
    summary: {
      en: 'Counts vehicles, bicycles and pedestrians at an intersection.',
      fr: 'Compte les véhicules, les vélos et les piétons à une intersection.',
    },
    status: 'active',
    technology: { elements: ['video_camera', 'de_identified_video'] },
    purpose: { elements: ['mobility'] },
    dataCollected: { elements: ['spatial'] },
    processing: {
      elements: ['computer_vision', 'de_identified', 'aggregated'],
      description: {
        en: 'Images are discarded on the device.',
        fr: 'Les images sont supprimées sur l’appareil.',
      },
    },
    storage: { elements: ['stored_locally'] },
    retention: { elements: ['data_retained'], days: 30 },
    access: { elements: ['available_to_the_accountable_organization'] },
    accountable: {
      organisation: 'Mobility department',
      contact: { email: 'mobility@city.example', url: 'https://city.example/mobility' },
    },
    locations: [
      { lat: 45.5017, lon: -73.5673, label: 'Sainte-Catherine / Peel' },
      { lat: 45.5088, lon: -73.554, label: 'Place Jacques-Cartier' },
    ],
    datasetIds: ['traffic-counts'],
  };
}

export function sampleAlgorithm() {
  return {
    name: 'Pothole repair prioritisation',
    description_short: 'Ranks reported potholes for repair.',
    organization: 'City of Example',
    department: 'Public works',
    contact_email: 'roads@city.example',
    area: 'Roads',
    domain: 'Public space',
    status: 'in_use',
    decision_making_process: 'Crews repair in the order of the ranking, reviewed daily.',
    goal: 'Repair the most dangerous potholes first.',
    impact: 'Order of repairs.',
    risks: 'Neighbourhoods reporting less get fewer repairs.',
    risk_category: 'minimal',
    proportionality: 'Uses no personal data.',
    lawful_basis: 'Municipal roads by-law.',
    training_data: 'None (rule-based).',
    source_data: '311 reports and road classes.',
    connected_data_sources: '311 service requests.',
    algorithm_type: 'rule_based',
    description: 'Score = traffic volume × severity.',
    monitoring: 'Monthly review by the roads engineer.',
    type: 'human_in_the_loop',
    human_intervention: 'The foreman may change the order.',
    objection_procedure: 'Call 311.',
    lang: 'en',
    revision_date: '2027-01-01',
  };
}
