// The JS codec against wit/encoding-vectors.jsonl (shared by every SDK) and a
// few properties of its own. Run: `node --test guest-sdk/js/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import * as C from '../src/codec.js';

const VECTORS = fileURLToPath(new URL('../../../wit/encoding-vectors.jsonl', import.meta.url));

/** JSON.parse, except that integer literals become BigInt (the vectors hold integers beyond 2^53). */
function parseJsonBig(text) {
  let pos = 0;
  const ws = () => {
    while (/\s/.test(text[pos] ?? '')) pos++;
  };
  function value() {
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj = {};
      ws();
      if (text[pos] === '}') return pos++, obj;
      for (;;) {
        ws();
        const k = str();
        ws();
        assert.equal(text[pos++], ':');
        obj[k] = value();
        ws();
        if (text[pos++] === '}') return obj;
      }
    }
    if (c === '[') {
      pos++;
      const arr = [];
      ws();
      if (text[pos] === ']') return pos++, arr;
      for (;;) {
        arr.push(value());
        ws();
        if (text[pos++] === ']') return arr;
      }
    }
    if (c === '"') return str();
    const m = /^(?:true|false|null|-?\d+(\.\d+)?([eE][-+]?\d+)?)/.exec(text.slice(pos));
    assert.ok(m, `bad JSON at ${pos}: ${text}`);
    pos += m[0].length;
    if (m[0] === 'true') return true;
    if (m[0] === 'false') return false;
    if (m[0] === 'null') return null;
    return m[1] === undefined && m[2] === undefined ? BigInt(m[0]) : Number(m[0]);
  }
  function str() {
    const start = pos;
    assert.equal(text[pos++], '"');
    while (text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
    pos++;
    return JSON.parse(text.slice(start, pos));
  }
  const v = value();
  ws();
  assert.equal(pos, text.length, 'trailing text');
  return v;
}

const hexOf = (u8) => Buffer.from(u8).toString('hex');
const fromHex = (h) => new Uint8Array(Buffer.from(h, 'hex'));

/** The type string with every s64/u64 as the BigInt flavour, so every vector value is exact. */
const bigType = (t) => t.replace(/\b(s64|u64)\b/g, '$1n');

/** A vector's value as the JS value its codec takes: bytes from hex, integers as BigInt, f64 as number. */
function jsValue(codec, v) {
  if (v === null) return null;
  const n = codec.name;
  if (n === 'bytes') return fromHex(v);
  if (n === 'f64') return Number(v);
  if (n.startsWith('option<')) return jsValue(C.parseType(n.slice(7, -1)), v);
  if (codec.elems) return v.map((x, i) => jsValue(codec.elems[i], x));
  if (codec.elem) return v.map((x) => jsValue(codec.elem, x));
  return v;
}

const vectors = readFileSync(VECTORS, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map(parseJsonBig);

test('the vectors file covers every encoding of wit/task.wit', () => {
  const base = new Set(vectors.map((v) => v.type.replace(/<.*/, '')));
  for (const t of ['string', 's64', 'u64', 'f64', 'bool', 'unit', 'bytes', 'option', 'pair', 'tuple', 'list']) {
    assert.ok(base.has(t), `no vector of ${t}`);
  }
  assert.ok(vectors.length >= 40, `${vectors.length} vectors`);
});

test('every vector value encodes to its hex', () => {
  for (const v of vectors) {
    const codec = C.parseType(bigType(v.type));
    assert.equal(hexOf(C.encode(codec, jsValue(codec, v.value))), v.hex, `${v.type} ${v.value}`);
  }
});

test('every vector hex decodes to its value', () => {
  for (const v of vectors) {
    const codec = C.parseType(bigType(v.type));
    const got = C.decode(codec, fromHex(v.hex));
    const want = jsValue(codec, v.value);
    assert.deepEqual(got, want, `${v.type} ${v.hex}`);
    if (v.type === 'f64') assert.ok(Object.is(got, want), `sign of ${v.hex}`);
  }
});

test('the number flavour of s64/u64 writes the same bytes and decodes safe integers', () => {
  let checked = 0;
  for (const v of vectors) {
    if (!/\b[su]64\b/.test(v.type)) continue;
    const codec = C.parseType(v.type);
    const big = C.parseType(bigType(v.type));
    const exact = jsValue(big, v.value);
    let safe = true;
    const toNumber = (x) => {
      if (typeof x === 'bigint') {
        if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) safe = false;
        return Number(x);
      }
      return Array.isArray(x) ? x.map(toNumber) : x;
    };
    const asNumbers = toNumber(exact);
    if (!safe) {
      assert.throws(() => C.decode(codec, fromHex(v.hex)), /beyond 2\^53/, v.hex);
      continue;
    }
    assert.equal(hexOf(C.encode(codec, asNumbers)), v.hex);
    assert.deepEqual(C.decode(codec, fromHex(v.hex)), asNumbers);
    checked++;
  }
  assert.ok(checked > 10);
});

test('numbers sort by their encoded bytes', () => {
  const cmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const ints = [-(2n ** 63n), -300n, -1n, 0n, 1n, 42n, 2n ** 63n - 1n];
  assert.deepEqual([...ints].reverse().map((x) => C.encode(C.s64n, x)).sort(cmp), ints.map((x) => C.encode(C.s64n, x)));
  const floats = [-Infinity, -1.5, -0, 0, 1e-300, 2, Number.MAX_VALUE, Infinity];
  assert.deepEqual([...floats].reverse().map((x) => C.encode(C.f64, x)).sort(cmp), floats.map((x) => C.encode(C.f64, x)));
  for (const f of floats) assert.ok(Object.is(C.decode(C.f64, C.encode(C.f64, f)), f));
});

test('wrong encodings and unencodable values are named', () => {
  const p = C.pair(C.string, C.s64);
  assert.throws(() => C.decode(p, new Uint8Array([3, 0, 0, 0, 102, 111, 120, 1])), /field of 1 bytes is not a s64/);
  assert.throws(() => C.encode(C.s64n, 2n ** 63n), /does not fit/);
  assert.throws(() => C.encode(C.s64, 2 ** 60), /beyond 2\^53/);
  assert.throws(() => C.encode(C.s64, 1.5), /expected an integer/);
  assert.throws(() => C.encode(C.string, 3), /expected a string/);
  assert.throws(() => C.decode(C.string, new Uint8Array([0xff])), /not UTF-8/);
  assert.throws(() => C.decode(C.dynamic('words'), new Uint8Array([1])), /output of words is not known/);
});

test('undeclared output types are encoded by runtime type', () => {
  const w = new C.Writer(4);
  C.dynamic('f').write(w, ['fox', 2]);
  assert.equal(hexOf(w.copy()), hexOf(C.encode(C.pair(C.string, C.s64), ['fox', 2])));
  assert.equal(hexOf(C.encode(C.dynamic('f'), 0.5)), hexOf(C.encode(C.f64, 0.5)));
});
