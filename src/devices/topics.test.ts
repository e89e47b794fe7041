/** The topic scheme and the compact measurement format, without a broker. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TermMap } from '../context/jsonld/term-map.js';
import { decodeMessage } from './payload.js';
import { deviceTopic, parseTopic, type DeviceTopic } from './topics.js';

describe('device topics', () => {
  it('round-trip names with reserved characters', () => {
    const topics: DeviceTopic[] = [
      { kind: 'entities', tenant: '', clientId: 'cli_abc' },
      { kind: 'attrs', tenant: 'city/north', clientId: 'cli_abc', entityId: 'urn:x:a/b+c#d e' },
      { kind: 'measurements', tenant: 't1', clientId: 'admin', entityId: 'urn:ngsi-ld:X:1' },
    ];
    for (const topic of topics) {
      const text = deviceTopic(topic);
      assert.ok(!/[+#]/.test(text), text);
      assert.equal(text.split('/').length, { entities: 5, attrs: 7, measurements: 6 }[topic.kind]);
      assert.deepEqual(parseTopic(text), { ok: true, topic });
    }
    assert.equal(
      deviceTopic({ kind: 'measurements', tenant: '', clientId: 'cli_a', entityId: 'urn:x:1' }),
      'ocp/v1/_default/cli_a/measurements/urn%3Ax%3A1',
    );
  });

  it('refuses topics outside the scheme, naming what it could read', () => {
    assert.equal(parseTopic('ocp/v2/_default/cli_a/entities').ok, false);
    assert.equal(parseTopic('ocp/v1/_default').ok, false);
    const badClient = parseTopic('ocp/v1/t/notaclient/entities');
    assert.deepEqual(badClient, { ok: false, detail: 'invalid client id level', tenant: 't' });
    const unknown = parseTopic('ocp/v1/_default/cli_a/other');
    assert.equal(unknown.ok, false);
    assert.equal(!unknown.ok && unknown.clientId, 'cli_a');
    assert.equal(parseTopic('ocp/v1/_default/cli_a/measurements/%E0%A4%A').ok, false);
    assert.equal(parseTopic('ocp/v1/bad%20tenant/cli_a/entities').ok, false);
    assert.equal(parseTopic('ocp/v1/_default/cli_a/entities/urn%3Ax/attrs/extra').ok, false);
  });
});

describe('compact measurements', () => {
  const core = TermMap.build([], []);
  const resolve = async () => core;
  const at = new Date('2026-03-01T12:00:00Z');
  const topic: DeviceTopic = {
    kind: 'measurements',
    tenant: '',
    clientId: 'cli_a',
    entityId: 'urn:ngsi-ld:X:1',
  };
  const decode = (payload: unknown) =>
    decodeMessage(topic, Buffer.from(JSON.stringify(payload)), undefined, resolve, at);
  const vocab = (name: string) => core.expand(name);

  it('become Properties observed at t (or at receipt), geometries GeoProperties', async () => {
    const out = await decode({
      t: 1772359200000,
      type: 'X',
      temperature: 21.5,
      on: true,
      status: 'ok',
      location: { type: 'Point', coordinates: [4.9, 52.37] },
    });
    assert.ok(out.ok);
    const input = out.inputs[0]!;
    assert.equal(input.id, 'urn:ngsi-ld:X:1');
    assert.deepEqual(input.attrs[vocab('temperature')], [
      { type: 'Property', value: 21.5, observedAt: '2026-03-01T10:00:00.000Z' },
    ]);
    assert.equal(input.attrs[vocab('on')]![0]!.value, true);
    assert.equal(input.attrs[vocab('location')]![0]!.type, 'GeoProperty');
    const untimed = await decode({ temperature: 1 });
    assert.ok(untimed.ok);
    assert.equal(
      untimed.inputs[0]!.attrs[vocab('temperature')]![0]!.observedAt,
      '2026-03-01T12:00:00.000Z',
    );
  });

  it('refuses what is not a flat measurement', async () => {
    for (const payload of [
      { t: 'yesterday', a: 1 },
      { a: { nested: 1 } },
      { a: [1, 2] },
      { t: '2026-03-01T10:00:00Z' },
      { id: 'urn:other', a: 1 },
      { a: 1, 'bad name': 2 },
      [1, 2],
    ]) {
      const out = await decode(payload);
      assert.equal(out.ok, false, JSON.stringify(payload));
      assert.equal(!out.ok && out.reason, 'invalid_payload');
    }
    const notJson = await decodeMessage(topic, Buffer.from('{'), undefined, resolve, at);
    assert.equal(!notJson.ok && notJson.reason, 'malformed_json');
  });
});
