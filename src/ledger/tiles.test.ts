import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from './canonical-json.js';
import { leafHash, rootFromLeafHashes, treeRoot } from './merkle.js';
import {
  appendToTiles,
  encodeTileIndex,
  hashesAtLevel,
  parseTilePath,
  tilePath,
  tileReader,
} from './tiles.js';

describe('tlog-tiles paths', () => {
  it('encodes indexes in 3-digit groups with x prefixes, as the spec shows', () => {
    assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
    assert.equal(encodeTileIndex(0), '000');
    assert.equal(encodeTileIndex(1000), 'x001/000');
    assert.equal(tilePath({ level: 2, index: 5, width: 17 }), 'tile/2/005.p/17');
    assert.equal(tilePath({ level: 'entries', index: 1000, width: null }), 'tile/entries/x001/000');
  });

  it('parses exactly the canonical forms', () => {
    assert.deepEqual(parseTilePath('0/x001/x234/067'), { level: 0, index: 1234067, width: null });
    assert.deepEqual(parseTilePath('entries/001.p/255'), {
      level: 'entries',
      index: 1,
      width: 255,
    });
    for (const bad of [
      '0/1',
      '0/x001',
      '0/x000/001',
      '01/000',
      '0/000.p/0',
      '0/000.p/256',
      '0/000.p/',
      '64/000',
      'entries',
      '0/000/',
    ]) {
      assert.equal(parseTilePath(bad), null, bad);
    }
  });

  it('counts full and partial tiles as the spec example for a tree of 70,000', () => {
    assert.equal(hashesAtLevel(70_000, 0), 70_000); // 273 full tiles + 112
    assert.equal(Math.floor(70_000 / 256), 273);
    assert.equal(70_000 % 256, 112);
    assert.equal(hashesAtLevel(70_000, 1), 273); // 1 full tile + 17
    assert.equal(hashesAtLevel(70_000, 1) % 256, 17);
    assert.equal(hashesAtLevel(70_000, 2), 1);
    assert.equal(hashesAtLevel(70_000, 3), 0);
  });
});

describe('tile storage', () => {
  it('appends in uneven batches and reproduces every root from tiles alone', async () => {
    const store = new Map<string, Buffer>();
    const source = async (level: number, index: number) => store.get(`${level}/${index}`) ?? null;
    const leaves = Array.from({ length: 70_000 }, (_, i) => leafHash(Buffer.from(`e${i}`)));
    let size = 0;
    const checkpoints = [1, 255, 256, 257, 511, 65_535, 65_536, 65_537, 70_000];
    for (const next of checkpoints) {
      for (const tile of await appendToTiles(size, leaves.slice(size, next), source)) {
        store.set(`${tile.level}/${tile.index}`, tile.hashes);
      }
      size = next;
      const expected = rootFromLeafHashes(leaves.slice(0, size));
      assert.deepEqual(await treeRoot(tileReader(source), size), expected, `size ${size}`);
    }
    assert.equal(store.get('0/273')!.length, 112 * 32);
    assert.equal(store.get('1/1')!.length, 17 * 32);
    assert.equal(store.get('2/0')!.length, 32);
  });

  it('refuses to append on top of a tile of the wrong width', async () => {
    const source = async () => Buffer.alloc(64);
    await assert.rejects(
      appendToTiles(5, [leafHash(Buffer.from('x'))], source),
      /holds 2 hashes, expected 5/,
    );
  });
});

describe('RFC 8785 canonical JSON', () => {
  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    assert.equal(
      canonicalJson(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control",' +
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",' +
        '"\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('serialises numbers and literals as ECMAScript does, without whitespace', () => {
    assert.equal(
      canonicalJson({
        numbers: [333333333.3333333, 1e30, 4.5, 0.002, 0.000001, 1e-7, -0, 100],
        literals: [null, true, false],
      }),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,0.000001,1e-7,0,100]}',
    );
    assert.throws(() => canonicalJson({ x: Number.NaN }));
    assert.equal(canonicalJson({ b: undefined, a: 'é\n"' }), '{"a":"é\\n\\""}');
  });
});
