// codec.js readAll/writeAll (whole batches, with ASCII fast paths) against
// the record-by-record codecs. Run: `node --test guest-sdk/js/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as C from '../src/codec.js';

/** The batch of `values` written record by record: its bytes and end offsets. */
function oneByOne(codec, values) {
  const w = new C.Writer(16);
  const ends = [];
  for (const v of values) {
    codec.write(w, v);
    ends.push(w.pos);
  }
  return { data: w.copy(), ends: new Uint32Array(ends) };
}

function batched(codec, values) {
  const w = new C.Writer(16);
  const ends = [];
  C.writeAll(codec, w, values, ends);
  return { data: w.copy(), ends: new Uint32Array(ends) };
}

const CASES = [
  ['ascii lines', C.string, ['the quick', '', 'brown fox', ' a\tb ', 'x'.repeat(300)]],
  ['non-ascii lines', C.string, ['école', 'été', '', 'plain', '😀 astral']],
  ['one empty line', C.string, ['']],
  ['ascii pairs', C.pair(C.string, C.s64), [['a', 1], ['\0'.repeat(13), 3], ['\0', 4], ['', -5], ['word', 2 ** 53 - 1], ['z', -(2 ** 53 - 1)], ['nul\0in', 0]]],
  ['non-ascii pairs', C.pair(C.string, C.s64), [['a', 1], ['été', 7]]],
  ['u64 pairs', C.pair(C.string, C.u64), [['a', 0], ['b', 4294967296], ['c', 4294967295]]],
  ['bigint values', C.pair(C.string, C.s64), [['a', 1n], ['b', 2]]],
  ['f64 pairs', C.pair(C.string, C.f64), [['a', 1.5], ['b', -0.25]]],
  ['option values', C.pair(C.string, C.option(C.string)), [['a', null], ['b', 'x']]],
  ['s64 records', C.s64, [1, -2, 3]],
];

test('writeAll writes the bytes and ends of record-by-record writing', () => {
  for (const [name, codec, values] of CASES) {
    assert.deepEqual(batched(codec, values), oneByOne(codec, values), name);
  }
});

test('readAll reads what record-by-record reading reads', () => {
  for (const [name, codec, values] of CASES) {
    const { data, ends } = oneByOne(codec, values);
    const want = [];
    let start = 0;
    for (const end of ends) {
      want.push(codec.read(data, start, end));
      start = end;
    }
    assert.deepEqual(C.readAll(codec, data, ends), want, name);
  }
  assert.deepEqual(C.readAll(C.string, new Uint8Array(0), new Uint32Array(0)), []);
});

test('readAll refuses what record-by-record reading refuses', () => {
  // A lone continuation byte is not UTF-8 (a loose decoder would give one U+FFFD for it).
  assert.throws(() => C.readAll(C.string, Uint8Array.of(0x61, 0x80), Uint32Array.of(1, 2)), C.CodecError);
  const { data, ends } = oneByOne(C.pair(C.string, C.s64), [['ab', 1]]);
  assert.throws(() => C.readAll(C.pair(C.string, C.s64), data.subarray(0, data.length - 1), Uint32Array.of(ends[0] - 1)), C.CodecError);
  const bad = Uint8Array.of(2, 0, 0, 0, 0x61, 0xff, 0, 0, 0, 0, 0, 0, 0, 1);
  assert.throws(() => C.readAll(C.pair(C.string, C.s64), bad, Uint32Array.of(bad.length)), C.CodecError);
});

test('writeAll refuses what record-by-record writing refuses', () => {
  assert.throws(() => C.writeAll(C.string, new C.Writer(), ['a', 1], []), C.CodecError);
  assert.throws(() => C.writeAll(C.pair(C.string, C.s64), new C.Writer(), [['a', 1.5]], []), C.CodecError);
  assert.throws(() => C.writeAll(C.pair(C.string, C.u64), new C.Writer(), [['a', -1]], []), C.CodecError);
});
