// The rest of Spark's RDD API, built on the transformations and actions of
// rdd.js (no host support of their own), with the semantics of the Rust
// SDK's guest-sdk/src/rdd/more.rs: ordering (takeOrdered, top), counting
// (countByValue), indexing (zipWithIndex, zipWithUniqueId), set operations
// (subtract, subtractByKey, intersection, cartesian), glom, lookup, the
// statistics of numbers (sum, mean, stats, variance, stdev...) and the tree
// aggregations (treeAggregate, treeReduce). Installed on `Rdd.prototype`.
//
// Their executor-side functions are registered here with `fn` under
// `wisp.` names, so every component built with the SDK has them.

import * as C from './codec.js';
import { declaredType, fn, nameOf, resolve } from './functions.js';
import { Rdd, WispError, inferType } from './rdd.js';
import { makeBroadcast } from './shared.js';

/**
 * The natural order of records: numbers and BigInts by value, strings by
 * code point, booleans false first, null first, arrays (tuples, lists) and
 * Uint8Arrays element by element, a shorter prefix first.
 */
export function compareValues(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  const ta = typeof a;
  if ((ta === 'number' || ta === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return a < b ? -1 : a > b ? 1 : 0;
  if (ta === 'string' && typeof b === 'string') return C.compareCodePoints(a, b);
  if (ta === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if ((Array.isArray(a) && Array.isArray(b)) || (a instanceof Uint8Array && b instanceof Uint8Array)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  throw new TypeError(`cannot order ${ta} against ${typeof b}: pass a compare function`);
}

function orderOf(cmpName, descending) {
  const cmp = cmpName ? resolve(cmpName) : compareValues;
  return descending ? (a, b) => cmp(b, a) : cmp;
}

/** A partition's `n` first records in the order `arg` names. */
const firstInOrder = fn('wisp.firstInOrder', (records, arg) => records.sort(orderOf(arg.cmp, arg.desc)).slice(0, arg.n));
const countPartition = fn('wisp.countPartition', (i, records) => [[i, records.length]]);
const indexFrom = fn('wisp.indexFrom', (i, records, offsets) => records.map((x, k) => [x, offsets[i] + k]));
const uniqueIds = fn('wisp.uniqueIds', (i, records, n) => records.map((x, k) => [x, k * n + i]));
const withUnit = fn('wisp.withUnit', (x) => [x, null]);
const withOne = fn('wisp.withOne', (x) => [x, 1]);
const add = fn('wisp.add', (a, b) => a + b);
const keepUnmatched = fn('wisp.keepUnmatched', ([k, [vs, ws]]) => (ws.length ? [] : vs.map((v) => [k, v])));
const inBoth = fn('wisp.inBoth', ([x, [a, b]]) => (a.length && b.length ? [x] : []));
const pairWithAll = fn('wisp.pairWithAll', (x, right) => right.value().map((y) => [x, y]));
const asList = fn('wisp.asList', (records) => [records]);
const keyEquals = fn('wisp.keyEquals', (p, key) => compareValues(p[0], key) === 0);
const keyByIndexMod = fn('wisp.keyByIndexMod', (i, records, m) => records.map((x) => [i % m, x]));
const statAdd = fn('wisp.statAdd', (s, x) => addStat(s, Number(x)));

const fromHex = (hex) => Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
const toHex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');

/** A partition folded with the function `arg.f` from a fresh copy of the zero. */
const foldPartition = fn('wisp.foldPartition', (records, arg) => {
  const f = resolve(arg.f);
  let acc = C.decode(C.parseType(arg.type), fromHex(arg.zero));
  for (const x of records) acc = f(acc, x);
  return [acc];
});

/** A partition reduced with the function `arg.f`: nothing for an empty one. */
const reducePartition = fn('wisp.reducePartition', (records, arg) => {
  if (!records.length) return [];
  const f = resolve(arg.f);
  let acc = records[0];
  for (let i = 1; i < records.length; i++) acc = f(acc, records[i]);
  return [acc];
});

/** Count, mean, sum of squared differences, max, min: the state of `stats` (Welford, merged as Spark's StatCounter). */
function addStat([count, mean, m2, max, min], x) {
  const n = count + 1;
  const delta = x - mean;
  const m = mean + delta / n;
  return [n, m, m2 + delta * (x - m), Math.max(max, x), Math.min(min, x)];
}

function mergeStats(a, b) {
  if (a[0] === 0) return b;
  if (b[0] === 0) return a;
  const count = a[0] + b[0];
  const delta = b[1] - a[1];
  const mean = a[1] + (delta * b[0]) / count;
  const m2 = a[2] + b[2] + (delta * delta * a[0] * b[0]) / count;
  return [count, mean, m2, Math.max(a[3], b[3]), Math.min(a[4], b[4])];
}

const STATS = C.tuple(C.s64, C.f64, C.f64, C.f64, C.f64);

/** Count, mean, variance, min and max of numbers (Spark's StatCounter). */
export class StatCounter {
  constructor([count, mean, m2, max, min]) {
    /** How many numbers. */
    this.count = count;
    /** Their mean (0 when there are none). */
    this.mean = mean;
    /** The largest (-Infinity when there are none). */
    this.max = max;
    /** The smallest (Infinity when there are none). */
    this.min = min;
    this.m2 = m2;
  }

  sum() {
    return this.mean * this.count;
  }

  /** The population variance (NaN when there are none). */
  variance() {
    return this.count === 0 ? NaN : this.m2 / this.count;
  }

  /** The sample variance (NaN with fewer than two). */
  sampleVariance() {
    return this.count <= 1 ? NaN : this.m2 / (this.count - 1);
  }

  stdev() {
    return Math.sqrt(this.variance());
  }

  sampleStdev() {
    return Math.sqrt(this.sampleVariance());
  }
}

function needType(rdd, what) {
  if (C.isDynamic(rdd.type)) {
    throw new WispError(
      `${what}: the record type of this RDD is not known (${rdd.type.name.slice(8)} has no declared output type); ` +
        'give the transformation that made it its type, e.g. .map(f, s64)',
    );
  }
  return rdd.type;
}

function ordered(rdd, n, compare, descending, what) {
  needType(rdd, what);
  if (!Number.isInteger(n) || n < 0) throw new WispError(`${what}: n must be a non-negative integer, got ${n}`);
  if (n === 0) return [];
  const arg = { n, cmp: compare ? nameOf(compare) : null, desc: descending };
  const firsts = rdd.mapPartitionsWith(firstInOrder, arg, rdd.type).collect();
  const cmp = compare ?? compareValues;
  return firsts.sort(descending ? (a, b) => cmp(b, a) : cmp).slice(0, n);
}

/** Partial results combined level by level as Spark's treeAggregate: keyed by partition index modulo the new count, reduced by key. */
function tree(partial, combOp, type, depth) {
  let n = partial.numPartitions();
  const scale = Math.max(Math.ceil(Math.pow(n, 1 / depth)), 2);
  while (n > scale + Math.ceil(n / scale)) {
    n = Math.floor(n / scale);
    partial = partial.mapPartitionsWithIndex(keyByIndexMod, C.pair(C.s64, type), n).reduceByKey(combOp, n).values();
  }
  return partial.collect();
}

function checkDepth(depth, what) {
  if (!Number.isInteger(depth) || depth < 1) throw new WispError(`${what}: depth must be an integer of at least 1, got ${depth}`);
}

const methods = {
  /** Every partition as one array (Spark's glom). */
  glom() {
    return this.mapPartitions(asList, C.isDynamic(this.type) ? C.dynamic('glom') : C.list(this.type));
  },

  /** The `n` smallest records in ascending order (`compare(a, b)`, by default the natural order): each partition keeps its `n` smallest, the main merges them. */
  takeOrdered(n, compare = undefined) {
    return ordered(this, n, compare, false, 'takeOrdered');
  },

  /** The `n` largest records in descending order (Spark's top). */
  top(n, compare = undefined) {
    return ordered(this, n, compare, true, 'top');
  },

  /** How many times each distinct record occurs: `[record, count]` pairs in no particular order. */
  countByValue() {
    const t = needType(this, 'countByValue');
    return this.map(withOne, C.pair(t, C.s64)).reduceByKey(add).collect();
  },

  /** Each record paired with its index, in partition order then order within the partition (runs a job to count the partitions first, as Spark). */
  zipWithIndex() {
    const t = needType(this, 'zipWithIndex');
    const counts = this.mapPartitionsWithIndex(countPartition, C.pair(C.s64, C.s64)).collect();
    counts.sort((a, b) => a[0] - b[0]);
    const offsets = [];
    let next = 0;
    for (const [i, n] of counts) {
      offsets[i] = next;
      next += n;
    }
    return this.mapPartitionsWithIndex(indexFrom, C.pair(t, C.s64), offsets);
  },

  /** Each record paired with a unique id: the k-th record of partition i of n gets `k * n + i` (no job runs). */
  zipWithUniqueId() {
    const t = needType(this, 'zipWithUniqueId');
    return this.mapPartitionsWithIndex(uniqueIds, C.pair(t, C.s64), this.numPartitions());
  },

  /** The pairs whose key does not occur in `other` (Spark's subtractByKey). */
  subtractByKey(other, numPartitions = 0) {
    this._needPairs('subtractByKey');
    other._needPairs('subtractByKey');
    return this.cogroup(other, numPartitions).flatMap(keepUnmatched, this.type);
  },

  /** The records that do not occur in `other`, duplicates kept (Spark's subtract). */
  subtract(other, numPartitions = 0) {
    const t = needType(this, 'subtract');
    const u = needType(other, 'subtract');
    return this.map(withUnit, C.pair(t, C.unit)).subtractByKey(other.map(withUnit, C.pair(u, C.unit)), numPartitions).keys();
  },

  /** The distinct records that occur in both RDDs (Spark's intersection). */
  intersection(other, numPartitions = 0) {
    const t = needType(this, 'intersection');
    const u = needType(other, 'intersection');
    const pairs = this.map(withUnit, C.pair(t, C.unit)).cogroup(other.map(withUnit, C.pair(u, C.unit)), numPartitions);
    return pairs.flatMap(inBoth, t);
  },

  /** Every pair `[a, b]` of a record of this RDD and one of `other`: `other` is collected and broadcast (it should fit in memory); this RDD's partitions. */
  cartesian(other) {
    const t = needType(this, 'cartesian');
    const u = needType(other, 'cartesian');
    const right = makeBroadcast(other.collect(), C.list(u));
    return this.flatMapWith(pairWithAll, right, C.pair(t, u));
  },

  /** The values of `key` (Spark's lookup). */
  lookup(key) {
    this._needPairs('lookup');
    return this.filterWith(keyEquals, key).values().collect();
  },

  /** The sum of numbers (0 for none): exact for integer records (`s64`, `u64`, BigInt), in floating point otherwise. */
  sum() {
    const t = needType(this, 'sum');
    const zero = t === C.s64n || t === C.u64n ? 0n : 0;
    return this.aggregate(zero, add, (a, b) => a + b, t === C.s64 || t === C.u64 || t === C.s64n || t === C.u64n ? t : C.f64);
  },

  /** Count, mean, variance, min and max in one pass (Spark's stats). */
  stats() {
    needType(this, 'stats');
    return new StatCounter(this.aggregate([0, 0, 0, -Infinity, Infinity], statAdd, mergeStats, STATS));
  },

  /** The mean (NaN for none). */
  mean() {
    const s = this.stats();
    return s.count === 0 ? NaN : s.mean;
  },

  /** The population variance. */
  variance() {
    return this.stats().variance();
  },

  /** The sample variance. */
  sampleVariance() {
    return this.stats().sampleVariance();
  },

  /** The population standard deviation. */
  stdev() {
    return this.stats().stdev();
  },

  /** The sample standard deviation. */
  sampleStdev() {
    return this.stats().sampleStdev();
  },

  /**
   * Spark's treeAggregate: each partition folds with `seqOp` from `zero`;
   * while there are more partial results than scale + ceil(count / scale)
   * (scale = max(ceil(count^(1/depth)), 2)), they are keyed by partition
   * index modulo count / scale and combined with `combOp` by key into that
   * many partitions; the main combines what is left from `zero`. `type` is
   * the accumulator's codec (by default `seqOp`'s declared type, else
   * inferred from `zero`).
   */
  treeAggregate(zero, seqOp, combOp, depth = 2, type = undefined) {
    checkDepth(depth, 'treeAggregate');
    const accType = type ?? declaredType(seqOp) ?? inferType(zero);
    const zeroBytes = C.encode(accType, zero);
    const arg = { f: nameOf(seqOp), zero: toHex(zeroBytes), type: accType.name };
    const partial = this.mapPartitionsWith(foldPartition, arg, accType);
    return tree(partial, combOp, accType, depth).reduce((a, b) => combOp(a, b), C.decode(accType, zeroBytes));
  },

  /** Spark's treeReduce: `treeAggregate` with `f` as both operations; fails on an empty RDD as `reduce` does. */
  treeReduce(f, depth = 2) {
    checkDepth(depth, 'treeReduce');
    const t = needType(this, 'treeReduce');
    const partial = this.mapPartitionsWith(reducePartition, { f: nameOf(f) }, t);
    const left = tree(partial, f, t, depth);
    if (!left.length) throw new WispError('treeReduce() of an empty RDD');
    return left.reduce((a, b) => f(a, b));
  },
};

for (const [name, method] of Object.entries(methods)) {
  Object.defineProperty(Rdd.prototype, name, { value: method, writable: true, configurable: true });
}
