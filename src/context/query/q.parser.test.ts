import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../platform/http/errors.js';
import { parseQ, type QExpr } from './q.parser.js';

const path = (attr: string, subPath: string[] = [], compound: string[] = []) => ({
  attr,
  subPath,
  compound,
});

function rejects(q: string, fragment?: RegExp) {
  assert.throws(
    () => parseQ(q),
    (error: unknown) => {
      assert.ok(error instanceof AppError, `expected AppError for ${q}`);
      assert.equal(error.code, 'bad_request');
      if (fragment) assert.match(error.message, fragment);
      return true;
    },
    `expected ${q} to be rejected`,
  );
}

describe('parseQ', () => {
  it('parses the spec examples', () => {
    assert.deepEqual(parseQ('temperature>=20'), {
      kind: 'compare',
      path: path('temperature'),
      op: '>=',
      value: { type: 'number', value: 20, text: '20' },
    });
    assert.deepEqual(parseQ('brandName!="Mercedes"'), {
      kind: 'compare',
      path: path('brandName'),
      op: '!=',
      value: { type: 'string', value: 'Mercedes' },
    });
    assert.deepEqual(parseQ('isParked==urn:ngsi-ld:OffStreetParking:Downtown1'), {
      kind: 'compare',
      path: path('isParked'),
      op: '==',
      value: { type: 'uri', value: 'urn:ngsi-ld:OffStreetParking:Downtown1' },
    });
    assert.deepEqual(parseQ('isMonitoredBy'), {
      kind: 'exists',
      path: path('isMonitoredBy'),
      negated: false,
    });
    assert.deepEqual(parseQ('temperature.observedAt>=2017-12-24T12:00:00Z'), {
      kind: 'compare',
      path: path('temperature', ['observedAt']),
      op: '>=',
      value: { type: 'dateTime', value: '2017-12-24T12:00:00Z' },
    });
    assert.deepEqual(parseQ('address[addressLocality]=="Berlin"'), {
      kind: 'compare',
      path: path('address', [], ['addressLocality']),
      op: '==',
      value: { type: 'string', value: 'Berlin' },
    });
    assert.deepEqual(parseQ('sensor.rawdata[airquality.particulate]==40'), {
      kind: 'compare',
      path: path('sensor', ['rawdata'], ['airquality', 'particulate']),
      op: '==',
      value: { type: 'number', value: 40, text: '40' },
    });
    assert.deepEqual(parseQ('a[b][c]==1').kind, 'compare');
    assert.deepEqual((parseQ('a[b][c]==1') as { path: unknown }).path, path('a', [], ['b', 'c']));
  });

  it('gives ; precedence over | and honours parentheses', () => {
    const q = parseQ('a==1|b==2;c==3');
    assert.equal(q.kind, 'or');
    const or = q as Extract<QExpr, { kind: 'or' }>;
    assert.equal(or.terms.length, 2);
    assert.equal(or.terms[1]!.kind, 'and');

    const grouped = parseQ('(a==1|b==2);c==3') as Extract<QExpr, { kind: 'and' }>;
    assert.equal(grouped.kind, 'and');
    assert.equal(grouped.terms[0]!.kind, 'or');

    const nested = parseQ('((a==1);(b==2|(c)))');
    assert.equal(nested.kind, 'and');
  });

  it('parses ranges, lists, booleans, dates and times', () => {
    assert.deepEqual(parseQ('speed==50..80'), {
      kind: 'range',
      path: path('speed'),
      negated: false,
      from: { type: 'number', value: 50, text: '50' },
      to: { type: 'number', value: 80, text: '80' },
    });
    assert.deepEqual(parseQ('speed!=-1.5..2e3'), {
      kind: 'range',
      path: path('speed'),
      negated: true,
      from: { type: 'number', value: -1.5, text: '-1.5' },
      to: { type: 'number', value: 2000, text: '2e3' },
    });
    assert.deepEqual(parseQ('day==2024-01-01..2024-01-31'), {
      kind: 'range',
      path: path('day'),
      negated: false,
      from: { type: 'date', value: '2024-01-01' },
      to: { type: 'date', value: '2024-01-31' },
    });
    assert.deepEqual(parseQ('name=="a","b,c",urn:x:y'), {
      kind: 'list',
      path: path('name'),
      negated: false,
      values: [
        { type: 'string', value: 'a' },
        { type: 'string', value: 'b,c' },
        { type: 'uri', value: 'urn:x:y' },
      ],
    });
    assert.deepEqual(parseQ('open==true'), {
      kind: 'compare',
      path: path('open'),
      op: '==',
      value: { type: 'boolean', value: true },
    });
    assert.deepEqual((parseQ('opens<08:30:00Z') as { value: unknown }).value, {
      type: 'time',
      value: '08:30:00Z',
    });
    assert.deepEqual((parseQ('at>2024-02-29T10:00:00.123+01:00') as { value: unknown }).value, {
      type: 'dateTime',
      value: '2024-02-29T10:00:00.123+01:00',
    });
    assert.deepEqual((parseQ('s=="say \\"hi\\" \\\\ ;|()"') as { value: unknown }).value, {
      type: 'string',
      value: 'say "hi" \\ ;|()',
    });
  });

  it('parses patterns, negated existence and entity members', () => {
    assert.deepEqual(parseQ('name~=(?i)^tom'), {
      kind: 'pattern',
      path: path('name'),
      negated: false,
      pattern: '^tom',
      caseInsensitive: true,
    });
    const grouped = parseQ('(name!~=^(a|b)x;c)') as Extract<QExpr, { kind: 'and' }>;
    assert.deepEqual(grouped.terms[0], {
      kind: 'pattern',
      path: path('name'),
      negated: true,
      pattern: '^(a|b)x',
      caseInsensitive: false,
    });
    assert.deepEqual(parseQ('!speed'), { kind: 'exists', path: path('speed'), negated: true });
    assert.deepEqual(
      (parseQ('https://example.org/ns/speed.accuracy>1') as { path: unknown }).path,
      {
        attr: 'https://example.org/ns/speed',
        subPath: ['accuracy'],
        compound: [],
      },
    );
    assert.deepEqual((parseQ('ex:speed.ex:accuracy<1') as { path: unknown }).path, {
      attr: 'ex:speed',
      subPath: ['ex:accuracy'],
      compound: [],
    });
  });

  it('rejects invalid expressions with BadRequestData', () => {
    rejects('', /empty/);
    rejects('a==', /expected a value/);
    rejects('a===1', /unknown operator/);
    rejects('(a==1', /expected "\)"/);
    rejects('a==1)', /unbalanced/);
    rejects('a==1;', /expected an attribute/);
    rejects('|a', /expected an attribute/);
    rejects('a=>1', /unknown operator/);
    rejects('a>true', /needs a number/);
    rejects('a>urn:x', /needs a number/);
    rejects('a>1..3', /range/);
    rejects('a<1,2', /value list/);
    rejects('a==1.."x"', /same type/);
    rejects('a=="open', /unterminated/);
    rejects('a[b==1', /expected "\]"/);
    rejects('a.==1', /sub-attribute/);
    rejects('a~=(', /regular expression/);
    rejects('a~=(?<year>\\d+)', /unsupported regular expression/);
    rejects('a~=\\p{L}', /unsupported regular expression/);
    rejects('a~=x{1,300}', /repetition/);
    rejects('a=="nul\u0000"', /control characters/);
    assert.throws(() => parseQ(Array.from({ length: 101 }, () => 'a==1').join(';')), {
      code: 'too_complex_query',
    });
    assert.equal(parseQ(Array.from({ length: 100 }, () => 'a==1').join('|')).kind, 'or');
    rejects('a==2024-02-30', /invalid date/);
    rejects('a==2024-01-01T25:00:00Z', /invalid dateTime/);
    rejects('a==1 b==2', /unexpected/);
    rejects('('.repeat(40) + 'a' + ')'.repeat(40), /nested/);
  });
});
