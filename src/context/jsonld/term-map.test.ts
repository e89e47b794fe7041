import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coreContextObject } from './core-context.js';
import { DEFAULT_VOCAB, TermMap } from './term-map.js';

describe('TermMap', () => {
  const core = TermMap.build([], [coreContextObject]);

  it('expands and compacts core terms, prefixes, IRIs and default-vocabulary names', () => {
    assert.equal(core.expand('Property'), 'https://uri.etsi.org/ngsi-ld/Property');
    assert.equal(core.expand('location'), 'https://uri.etsi.org/ngsi-ld/location');
    assert.equal(core.compact('https://uri.etsi.org/ngsi-ld/location'), 'location');
    assert.equal(core.expand('temperature'), `${DEFAULT_VOCAB}temperature`);
    assert.equal(core.compact(`${DEFAULT_VOCAB}temperature`), 'temperature');
    assert.equal(core.expand('ngsi-ld:foo'), 'https://uri.etsi.org/ngsi-ld/foo');
    assert.equal(core.expand('https://example.org/x'), 'https://example.org/x');
    assert.equal(core.compact('https://example.org/x'), 'https://example.org/x');
    assert.equal(core.expand('urn:x:y'), 'urn:x:y');
  });

  it('applies user terms with prefixes defined alongside, but never over protected core terms', () => {
    const map = TermMap.build(
      [
        {
          schema: 'https://schema.org/',
          name: 'schema:name',
          address: { '@id': 'schema:address' },
        },
        { location: 'https://example.org/location', speed: 'https://example.org/speed' },
      ],
      [coreContextObject],
    );
    assert.equal(map.expand('name'), 'https://schema.org/name');
    assert.equal(map.expand('address'), 'https://schema.org/address');
    assert.equal(map.expand('schema:email'), 'https://schema.org/email');
    assert.equal(map.compact('https://schema.org/name'), 'name');
    assert.equal(map.expand('location'), 'https://uri.etsi.org/ngsi-ld/location');
    assert.equal(map.expand('speed'), 'https://example.org/speed');
  });

  it('honours @vocab and term removal', () => {
    const map = TermMap.build(
      [{ '@vocab': 'https://example.org/v#' }, { speed: null }],
      [coreContextObject],
    );
    assert.equal(map.expand('speed'), 'https://example.org/v#speed');
    assert.equal(map.compact('https://example.org/v#speed'), 'speed');
  });
});
