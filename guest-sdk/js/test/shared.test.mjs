// The SDK's shared variables, function arguments and record order under node,
// with the WIT imports stubbed (testing/wit-stub.mjs). Run: `node --test guest-sdk/js/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';

register('../testing/wit-hooks.mjs', import.meta.url);
const C = await import('../src/codec.js');
const S = await import('../src/shared.js');
const { fn } = await import('../src/functions.js');
const { Chain } = await import('../src/task.js');
const { compareValues } = await import('../src/more.js');
const stub = globalThis.wispStub;

const shipped = (arg) => JSON.parse(JSON.stringify({ with: arg }, S.argReplacer), S.reviveArg).with;

test('a broadcast is read through the host once per instance, whatever the handles', () => {
  stub.broadcasts.set(7, C.encode(C.list(C.string), ['a', 'bb']));
  stub.reads = 0;
  const [h1, h2] = shipped([new S.Broadcast(7, C.list(C.string)), new S.Broadcast(7, C.list(C.string))]);
  assert.ok(h1 instanceof S.Broadcast && h2 instanceof S.Broadcast);
  assert.deepEqual(h1.value(), ['a', 'bb']);
  assert.equal(h2.value(), h1.value(), 'the same decoded object');
  assert.equal(stub.reads, 1);
  h1.unpersist();
  assert.deepEqual(h1.value(), ['a', 'bb']);
  assert.equal(stub.reads, 2, 'unpersist drops the decoded copy');
});

test('the main reads what it broadcast without the host; a destroyed broadcast fails with the host message', () => {
  const bc = S.makeBroadcast({ k: [1, 2] });
  stub.reads = 0;
  assert.deepEqual(bc.value(), { k: [1, 2] });
  assert.equal(stub.reads, 0);
  assert.deepEqual(C.decode(S.json, stub.broadcasts.get(bc.id)), { k: [1, 2] }, 'default type: JSON');
  bc.destroy();
  assert.throws(() => bc.value(), { name: 'SharedError', message: `broadcast ${bc.id} does not exist or was destroyed before this job started` });
  assert.throws(() => bc.destroy(), { name: 'SharedError', message: `broadcast ${bc.id} was destroyed (or never made)` });
});

test('accumulators encode what is added with the record encoding of their kind', () => {
  stub.added.length = 0;
  const [sum, dmax, coll] = shipped([new S.Accumulator(1, 'long-sum'), new S.Accumulator(2, 'double-max'), new S.Accumulator(3, 'collection', C.pair(C.string, C.s64))]);
  sum.add(5);
  sum.add(2n ** 60n);
  dmax.add(0.5);
  coll.add(['x', -1]);
  assert.deepEqual(stub.added, [
    [1, C.encode(C.s64, 5)],
    [1, C.encode(C.s64n, 2n ** 60n)],
    [2, C.encode(C.f64, 0.5)],
    [3, C.encode(C.pair(C.string, C.s64), ['x', -1])],
  ]);
  assert.throws(() => sum.add(1.5), { name: 'SharedError', message: /accumulator 1: cannot add number: expected an integer/ });
  assert.throws(() => new S.Accumulator(4, 'long-avg'), /unknown accumulator kind "long-avg"/);
});

test('function arguments keep BigInts, bytes and nesting', () => {
  const arg = { n: 2n ** 62n, b: new Uint8Array([0, 255]), nested: [{ s: 'x' }, null, 1.5] };
  assert.deepEqual(shipped(arg), arg);
  assert.throws(() => JSON.stringify({ with: () => 1 }, S.argReplacer), /cannot hold functions/);
});

const ENC = new TextEncoder();
const batch = (codec, values) => {
  const w = new C.Writer();
  const ends = values.map((v) => (codec.write(w, v), w.pos));
  return [w.copy(), new Uint32Array(ends)];
};
const records = (codec, { data, ends }) => Array.from(ends, (end, i) => codec.read(data, i ? ends[i - 1] : 0, end));
const op = (kind, name, args) => ({ kind, name, args: ENC.encode(JSON.stringify(args, S.argReplacer)) });

test('a task binds the argument (last) and the partition index (first) of its functions', () => {
  stub.broadcasts.set(8, C.encode(C.list(C.string), ['a', 'b', 'c']));
  fn('t.plusArg', (x, a) => x + a.n + a.table.value().length);
  fn('t.indexed', (i, xs, a) => [i * 100 + xs.length * a]);
  const table = new S.Broadcast(8, C.list(C.string));
  const map = new Chain([op('map', 't.plusArg', { in: 's64', out: 's64', with: { n: 10, table } })], 0);
  assert.deepEqual(records(C.s64, map.push(...batch(C.s64, [1, 2]))), [14, 15]);
  const parts = new Chain([op('map-partitions', 't.indexed', { in: 's64', out: 's64', index: true, with: 3 })], 4);
  parts.push(...batch(C.s64, [1, 2]));
  assert.deepEqual(records(C.s64, parts.finish()), [406]);
});

test('foreach stages call the function and emit nothing', () => {
  const seen = [];
  globalThis.seenByForeach = seen;
  fn('t.see', (x, a) => globalThis.seenByForeach.push(x * a));
  const chain = new Chain([op('flat-map', 't.see', { in: 's64', out: 'unit', foreach: true, with: 2 })], 0);
  assert.equal(chain.push(...batch(C.s64, [1, 2, 3])).ends.length, 0);
  assert.equal(chain.finish().ends.length, 0);
  assert.deepEqual(seen, [2, 4, 6]);
});

test('the natural order: numbers by value, strings by code point, arrays element-wise, null first', () => {
  const strings = ['\u{1F600}', '\uE000', 'b', 'a', '', 'ab'];
  assert.deepEqual(strings.sort(compareValues), ['', 'a', 'ab', 'b', '\uE000', '\u{1F600}']);
  assert.deepEqual([[1, 2], [1], [0, 5], null].sort(compareValues), [null, [0, 5], [1], [1, 2]]);
  assert.deepEqual([3n, -1, 2.5, 2n].sort(compareValues), [-1, 2n, 2.5, 3n]);
  assert.throws(() => compareValues('a', 1), /cannot order string against number/);
});
