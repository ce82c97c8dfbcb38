// The driver-side API: `Context` and `Rdd`, lazy handles over the host's
// lineage (the `driver` interface of wit/task.wit).
//
// Transformations record a node and return a new `Rdd`; actions run a job.
// Every `Rdd` knows the codec of its records: sources know theirs, and a
// transformation takes its output type as its last argument (or from
// `fn(f, { type })`). Where none is given the records are encoded by their
// runtime type, which is enough to write text or to feed the next fused op,
// but not to read them back after a shuffle: those operations ask for the
// type. The types travel to executors in each op's args (JSON: `in`, `out`
// and, for fold, the encoded zero as `zero`).

import * as driver from 'wisp:task/driver@0.2.0';

import * as C from './codec.js';
import { aggregatorName, declaredType, fn, label, nameOf } from './functions.js';
import { argReplacer, makeAccumulator, makeBroadcast } from './shared.js';

/** A failed driver call (the host's message), or an error of the job's use of the API. */
export class WispError extends Error {
  constructor(message) {
    super(message);
    this.name = 'WispError';
  }
}

function call(f, ...args) {
  try {
    return f(...args);
  } catch (e) {
    // componentize-js throws the `err` string of an import's result as the `payload` of an Error.
    throw new WispError(typeof e?.payload === 'string' ? e.payload : e instanceof Error ? e.message : String(e));
  }
}

const ENCODER = new TextEncoder();
const toHex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');

function op(kind, name, types) {
  let text;
  try {
    text = JSON.stringify(types, argReplacer);
  } catch (e) {
    throw new WispError(`the argument of ${label(name)} cannot be shipped: ${e.message}`);
  }
  return { kind, name, args: ENCODER.encode(text) };
}

function batchOf(codec, values) {
  const w = new C.Writer();
  const ends = [];
  for (const v of values) {
    codec.write(w, v);
    ends.push(w.pos);
  }
  return { data: w.copy(), ends: new Uint32Array(ends) };
}

function recordsOf(codec, batch, what) {
  if (C.isDynamic(codec)) {
    try {
      codec.read();
    } catch (e) {
      throw new WispError(`${what}: ${e.message}`);
    }
  }
  const out = [];
  let start = 0;
  for (const end of batch.ends) {
    out.push(codec.read(batch.data, start, end));
    start = end;
  }
  return out;
}

/** The codec of a JS value by its runtime type (for `parallelize` without a type). */
export function inferType(v) {
  switch (typeof v) {
    case 'string':
      return C.string;
    case 'boolean':
      return C.bool;
    case 'bigint':
      return C.s64n;
    case 'number':
      return Number.isSafeInteger(v) ? C.s64 : C.f64;
    case 'object':
      if (v === null) return C.unit;
      if (v instanceof Uint8Array) return C.bytes;
      if (Array.isArray(v) && v.length >= 2) return C.tuple(...v.map(inferType));
  }
  throw new WispError(`cannot infer a record type for ${typeof v} values: pass the type to parallelize`);
}

/** A (key, value) pair type, or an undeclared one when either part is. */
function pairType(k, v, producer) {
  return C.isDynamic(k) || C.isDynamic(v) ? C.dynamic(producer) : C.pair(k, v);
}

/** A function of a component loaded with `ctx.loadFunctions`, usable wherever a JS function is. */
export class ForeignFunction {
  constructor(component, name, type) {
    this.component = component;
    this.name = name;
    this.type = type;
  }
}

/** The functions of a component loaded with `ctx.loadFunctions`. */
export class Functions {
  constructor(component) {
    this.component = component;
  }

  /** Its function `name`, whose output (or output element) has the codec `type`. */
  fn(name, type) {
    return new ForeignFunction(this.component, name, type);
  }
}

function target(f, input) {
  if (f instanceof ForeignFunction) {
    // A built-in's type follows from its input's (pairWithOne: [T, s64]); its args are its parameter.
    const type = f.typeFor ? f.typeFor(input) : f.type;
    return { name: f.name, component: f.component, type, foreign: true, args: f.args ?? new Uint8Array(0) };
  }
  return { name: nameOf(f), component: 0, type: declaredType(f), foreign: false };
}

/** The job's entry into the engine (Spark's SparkContext). */
export class Context {
  /** Value of a configuration key (`--conf key=value`), or undefined. */
  conf(key) {
    return driver.conf(key);
  }

  /** Default number of partitions for shuffles. */
  defaultParallelism() {
    return driver.defaultParallelism();
  }

  /** The lines of a file or directory, as `string` records, in at least `minPartitions` partitions. */
  textFile(path, minPartitions = 2) {
    return new Rdd(call(driver.textFile, path, Math.max(1, minPartitions)), C.string);
  }

  /** The given values in `numSlices` partitions, encoded with `type` (by default inferred from the first value). */
  parallelize(values, numSlices = 0, type = undefined) {
    values = Array.from(values);
    const codec = type ?? (values.length ? inferType(values[0]) : C.unit);
    let batch;
    try {
      batch = batchOf(codec, values);
    } catch (e) {
      throw new WispError(`parallelize: ${e.message}`);
    }
    return new Rdd(call(driver.parallelize, batch, numSlices || defaultPartitions()), codec);
  }

  /** The lines of a file or directory as raw bytes (`Uint8Array` records, no U+FFFD replacement: Latin-1 and other non-UTF-8 data). */
  binaryLines(path, minPartitions = 2) {
    return new Rdd(call(driver.binaryLines, path, Math.max(1, minPartitions)), C.bytes);
  }

  /** One `[path, content]` pair per file of a directory (Spark's wholeTextFiles). */
  wholeTextFiles(path, minPartitions = 2) {
    return new Rdd(call(driver.wholeTextFiles, path, Math.max(1, minPartitions)), C.pair(C.string, C.string));
  }

  /**
   * Ships `value` to each executor once (Spark's broadcast), encoded with
   * `type` (by default its JSON text). Pass the handle to a function as its
   * argument (`rdd.mapWith(f, bc, type)`) and read it there with `bc.value()`.
   */
  broadcast(value, type = undefined) {
    return makeBroadcast(value, type);
  }

  /** A new accumulator of `kind` (see `Accumulator`); `type` encodes a collection's elements. */
  accumulator(kind = 'long-sum', type = undefined) {
    return makeAccumulator(kind, type);
  }

  /** A sum of integers (0 until tasks add). */
  longAccumulator() {
    return makeAccumulator('long-sum');
  }

  /** A sum of numbers (0 until tasks add). */
  doubleAccumulator() {
    return makeAccumulator('double-sum');
  }

  /** The smallest integer added (null before any). */
  longMinAccumulator() {
    return makeAccumulator('long-min');
  }

  /** The largest integer added (null before any). */
  longMaxAccumulator() {
    return makeAccumulator('long-max');
  }

  /** The smallest number added (null before any). */
  doubleMinAccumulator() {
    return makeAccumulator('double-min');
  }

  /** The largest number added (null before any). */
  doubleMaxAccumulator() {
    return makeAccumulator('double-max');
  }

  /** Every value added (encoded with `type`, by default their JSON), in the order partitions were merged. */
  collectionAccumulator(type = undefined) {
    return makeAccumulator('collection', type);
  }

  /** The directory `rdd.checkpoint()` writes into (each application writes below it). */
  setCheckpointDir(path) {
    call(driver.setCheckpointDir, path);
  }

  /** The partitions of all the given RDDs, in order. */
  union(rdds) {
    rdds = Array.from(rdds);
    return new Rdd(call(driver.union, rdds.map((r) => r.id)), rdds.length ? rdds[0].type : C.unit);
  }

  /** Loads a component exporting `pipeline` (a `functions` world) so that ops can name its functions. */
  loadFunctions(path) {
    return new Functions(call(driver.loadFunctions, path));
  }
}

function defaultPartitions() {
  return Math.max(1, driver.defaultParallelism());
}

/** A lazily computed, partitioned collection of records. */
export class Rdd {
  constructor(id, type) {
    this.id = id;
    this.type = type;
  }

  _transform(kind, f, outType, out, extra = undefined) {
    const onValues = kind === 'map-values' || kind === 'flat-map-values';
    const t = target(f, onValues ? this._valueType() : this.type);
    if (t.foreign && extra) throw new WispError(`${t.name}: a function of another component takes no argument here`);
    const declared = outType ?? t.type;
    const type = out(declared ?? C.dynamic(label(t.name)));
    const o = t.foreign ? { kind, name: t.name, args: t.args } : op(kind, t.name, { in: this.type.name, out: type.name, ...extra });
    return new Rdd(call(driver.transform, this.id, o, t.component), type);
  }

  _keyType() {
    return this.type.elems?.length === 2 ? this.type.elems[0] : C.dynamic(`the records of RDD ${this.id}`);
  }

  _valueType() {
    return this.type.elems?.length === 2 ? this.type.elems[1] : C.dynamic(`the records of RDD ${this.id}`);
  }

  _needPairs(what) {
    if (C.isDynamic(this.type)) {
      throw new WispError(
        `${what}: the record type of this RDD is not known (${this.type.name.slice(8)} has no declared output type); ` +
          'give the transformation that made it its type, e.g. .map(f, pair(string, s64))',
      );
    }
    if (this.type.elems?.length !== 2) throw new WispError(`${what}: records of type ${this.type.name} are not pairs`);
  }

  // Transformations.

  /** `f(x)` for every record; `type` is the codec of what `f` returns. */
  map(f, type) {
    return this._transform('map', f, type, (t) => t);
  }

  /** The records for which `f(x)` is truthy. */
  filter(f) {
    return this._transform('filter', f, this.type, () => this.type);
  }

  /** Every element of the array (or iterable) `f(x)`; `type` is the codec of one element. */
  flatMap(f, type) {
    return this._transform('flat-map', f, type, (t) => t);
  }

  /** `f(records)` called once per partition with an array of its records; returns an array or iterable. */
  mapPartitions(f, type) {
    return this._transform('map-partitions', f, type, (t) => t);
  }

  /** `f(x, arg)` for every record: `arg` (JSON-able, broadcast and accumulator handles, BigInts, Uint8Arrays) travels with the op (Rust's map_with). */
  mapWith(f, arg, type) {
    return this._transform('map', f, type, (t) => t, { with: arg });
  }

  /** The records for which `f(x, arg)` is truthy. */
  filterWith(f, arg) {
    return this._transform('filter', f, this.type, () => this.type, { with: arg });
  }

  /** Every element of `f(x, arg)`; `type` is the codec of one element. */
  flatMapWith(f, arg, type) {
    return this._transform('flat-map', f, type, (t) => t, { with: arg });
  }

  /** `f(records, arg)` once per partition. */
  mapPartitionsWith(f, arg, type) {
    return this._transform('map-partitions', f, type, (t) => t, { with: arg });
  }

  /** `f(index, records)` once per partition (`f(index, records, arg)` when `arg` is given). */
  mapPartitionsWithIndex(f, type, arg = undefined) {
    return this._transform('map-partitions', f, type, (t) => t, arg === undefined ? { index: true } : { index: true, with: arg });
  }

  /** The keys of pairs. */
  keys() {
    return this.map(keyOf, this._keyType());
  }

  /** The values of pairs. */
  values() {
    return this.map(valueOf, this._valueType());
  }

  /** `[k, f(v)]` for every pair `[k, v]`. */
  mapValues(f, type) {
    return this._transform('map-values', f, type, (t) => pairType(this._keyType(), t, 'mapValues'));
  }

  /** `[k, y]` for every element `y` of `f(v)`, for every pair `[k, v]`. */
  flatMapValues(f, type) {
    return this._transform('flat-map-values', f, type, (t) => pairType(this._keyType(), t, 'flatMapValues'));
  }

  /** `[f(x), x]` for every record; `type` is the codec of the key. */
  keyBy(f, type) {
    return this._transform('key-by', f, type, (t) => pairType(t, this.type, 'keyBy'));
  }

  /** The values of each key merged with `f(v, v) => v`, combining on the map side first. */
  reduceByKey(f, numPartitions = 0) {
    this._needPairs('reduceByKey');
    const t = target(f, this._valueType());
    const o = t.foreign ? { kind: 'combine', name: t.name, args: t.args } : op('combine', t.name, { in: this.type.name, out: this.type.name });
    // A built-in aggregator (count, mean...) may change the value type; mean then takes its combiner's mean.
    const type = f.typeFor ? C.pair(this._keyType(), t.type) : this.type;
    const combined = new Rdd(call(driver.combineByKey, this.id, o, t.component, numPartitions || defaultPartitions(), true), type);
    return f.then ? combined.mapValues(f.then) : combined;
  }

  /** Spark's combineByKey: `type` (or `fn(mergeCombiners, { type })`) is the codec of the combiner. */
  combineByKey(create, mergeValue, mergeCombiners, type, numPartitions = 0) {
    this._needPairs('combineByKey');
    const ctype = type ?? declaredType(mergeCombiners) ?? declaredType(create);
    if (!ctype) throw new WispError('combineByKey: give the combiner type, e.g. combineByKey(create, add, merge, list(s64))');
    const out = C.pair(this._keyType(), ctype);
    const o = op('combine', aggregatorName(create, mergeValue, mergeCombiners), { in: this.type.name, out: out.name });
    return new Rdd(call(driver.combineByKey, this.id, o, 0, numPartitions || defaultPartitions(), true), out);
  }

  /** Pairs `[k, [v...]]`, one per key. */
  groupByKey(numPartitions = 0) {
    return new Rdd(call(driver.groupByKey, this.id, numPartitions || defaultPartitions()), pairType(this._keyType(), C.list(this._valueType()), 'groupByKey'));
  }

  _join(kind, other, numPartitions, wrap) {
    const v = this._valueType();
    const w = other._valueType();
    const [a, b] = wrap(v, w);
    const value = C.isDynamic(v) || C.isDynamic(w) ? C.dynamic('join') : C.pair(a, b);
    const id = call(driver.join, this.id, other.id, kind, numPartitions || defaultPartitions());
    return new Rdd(id, pairType(this._keyType(), value, 'join'));
  }

  /** Pairs `[k, [v, w]]` for keys on both sides. */
  join(other, numPartitions = 0) {
    return this._join('inner', other, numPartitions, (v, w) => [v, w]);
  }

  /** Pairs `[k, [v, w | null]]` for every key of this side. */
  leftOuterJoin(other, numPartitions = 0) {
    return this._join('left-outer', other, numPartitions, (v, w) => [v, C.option(w)]);
  }

  /** Pairs `[k, [v | null, w]]` for every key of the other side. */
  rightOuterJoin(other, numPartitions = 0) {
    return this._join('right-outer', other, numPartitions, (v, w) => [C.option(v), w]);
  }

  /** Pairs `[k, [v | null, w | null]]` for every key of either side. */
  fullOuterJoin(other, numPartitions = 0) {
    return this._join('full-outer', other, numPartitions, (v, w) => [C.option(v), C.option(w)]);
  }

  /** Pairs `[k, [[v...], [w...]]]`, one per key of either side. */
  cogroup(other, numPartitions = 0) {
    const v = this._valueType();
    const w = other._valueType();
    const value = C.isDynamic(v) || C.isDynamic(w) ? C.dynamic('cogroup') : C.tuple(C.list(v), C.list(w));
    const id = call(driver.cogroup, [this.id, other.id], numPartitions || defaultPartitions());
    return new Rdd(id, pairType(this._keyType(), value, 'cogroup'));
  }

  /** Pairs sorted by key bytes across `numPartitions` range partitions. */
  sortByKey(ascending = true, numPartitions = 0) {
    return new Rdd(call(driver.sortByKey, this.id, ascending, numPartitions || defaultPartitions()), this.type);
  }

  /** Pairs hash-partitioned by key. */
  partitionBy(numPartitions) {
    return new Rdd(call(driver.partitionBy, this.id, numPartitions), this.type);
  }

  /** Distinct records (by their bytes). */
  distinct(numPartitions = 0) {
    return new Rdd(call(driver.distinct, this.id, numPartitions || defaultPartitions()), this.type);
  }

  /** The partitions of this RDD, then of `other`. */
  union(other) {
    return new Rdd(call(driver.union, [this.id, other.id]), this.type);
  }

  /** Records spread evenly over `numPartitions` by a shuffle. */
  repartition(numPartitions) {
    return new Rdd(call(driver.repartition, this.id, numPartitions), this.type);
  }

  /** At most `numPartitions` partitions, merging neighbours without a shuffle. */
  coalesce(numPartitions) {
    return new Rdd(call(driver.coalesce, this.id, numPartitions), this.type);
  }

  /** A reproducible random sample. */
  sample(withReplacement, fraction, seed = 0) {
    return new Rdd(call(driver.sample, this.id, withReplacement, fraction, BigInt(seed)), this.type);
  }

  /** Keeps the partitions once computed (`memory-only`, `memory-and-disk` or `disk-only`). */
  persist(level = 'memory-only') {
    call(driver.persist, this.id, level);
    return this;
  }

  cache() {
    return this.persist('memory-only');
  }

  unpersist() {
    call(driver.unpersist, this.id);
    return this;
  }

  numPartitions() {
    return call(driver.numPartitions, this.id);
  }

  /**
   * Writes the partitions into the checkpoint directory now (a job) and
   * makes this RDD read them back: its lineage starts there. Returns `this`.
   * Fails without `ctx.setCheckpointDir`.
   */
  checkpoint() {
    this.id = call(driver.checkpoint, this.id);
    return this;
  }

  /** Keeps the partitions on the executors (memory and disk) and computes them now (a job); later jobs start from them. Returns `this`. */
  localCheckpoint() {
    this.id = call(driver.localCheckpoint, this.id);
    return this;
  }

  // Actions.

  /** `f(x)` (or `f(x, arg)`) for every record, for its effects (accumulators); runs a job. */
  foreach(f, arg = undefined) {
    this._runForeach('flat-map', f, arg);
  }

  /** `f(records)` (or `f(records, arg)`) once per partition, for its effects; runs a job. */
  foreachPartition(f, arg = undefined) {
    this._runForeach('map-partitions', f, arg);
  }

  _runForeach(kind, f, arg) {
    const args = { in: this.type.name, out: 'unit', foreach: true };
    if (arg !== undefined) args.with = arg;
    call(driver.runPartitions, this.id, [op(kind, nameOf(f), args)], 0);
  }

  /** Number of records (a number; exact below 2^53). */
  count() {
    return Number(call(driver.count, this.id));
  }

  /** Every record, in partition order. */
  collect() {
    return recordsOf(this.type, call(driver.collect, this.id), 'collect');
  }

  /** The first `n` records. */
  take(n) {
    return recordsOf(this.type, call(driver.take, this.id, n), 'take');
  }

  first() {
    const got = this.take(1);
    if (!got.length) throw new WispError('first() of an empty RDD');
    return got[0];
  }

  /** The records reduced pairwise with `f(t, t) => t` (per partition on executors, then here). */
  reduce(f) {
    if (f instanceof ForeignFunction && f.python) {
      const o = { kind: 'reduce', name: f.name, args: f.args };
      const batches = call(driver.runPartitions, this.id, [o], f.component);
      const values = batches.flatMap((b) => recordsOf(this.type, b, 'reduce'));
      if (!values.length) throw new WispError('reduce() of an empty RDD');
      return values.reduce((a, b) => f.python(a, b));
    }
    const t = this.type.name;
    const batches = call(driver.runPartitions, this.id, [op('reduce', nameOf(f), { in: t, out: t })], 0);
    const values = batches.flatMap((b) => recordsOf(this.type, b, 'reduce'));
    if (!values.length) throw new WispError('reduce() of an empty RDD');
    return values.reduce((a, b) => f(a, b));
  }

  /** The records folded into `zero` with `f(acc, t) => acc` in each partition, then the partitions' results. */
  fold(zero, f) {
    return this.aggregate(zero, f, f, this.type);
  }

  /** Spark's aggregate: `seqOp(acc, t)` per partition from `zero`, `combOp(acc, acc)` here; `type` is the accumulator's codec. */
  aggregate(zero, seqOp, combOp, type) {
    const accType = type ?? declaredType(seqOp) ?? inferType(zero);
    const zeroHex = toHex(C.encode(accType, zero));
    const o = op('fold', nameOf(seqOp), { in: this.type.name, out: accType.name, zero: zeroHex });
    const batches = call(driver.runPartitions, this.id, [o], 0);
    return batches.flatMap((b) => recordsOf(accType, b, 'aggregate')).reduce((a, b) => combOp(a, b), zero);
  }

  /**
   * Writes string records as lines of part files in the new directory `path`.
   * `compression` (`'gzip'` or `'zstd'`) names the codec the run was given
   * with `--conf wisp.output.compress=...` (the host compresses every output
   * of a run alike, `part-00000.gz`...); a different one is refused.
   */
  saveAsTextFile(path, compression = undefined) {
    if (this.type !== C.string && !C.isDynamic(this.type)) {
      throw new WispError(`saveAsTextFile: records of type ${this.type.name} are not strings: map them to strings first`);
    }
    if (compression !== undefined) {
      const configured = driver.conf('wisp.output.compress') ?? 'none';
      if (compression !== configured) {
        throw new WispError(
          `saveAsTextFile: compression ${JSON.stringify(compression)} is chosen for the whole run: pass --conf wisp.output.compress=${compression} (this run has ${configured})`,
        );
      }
    }
    call(driver.saveAsTextFile, this.id, path);
  }
}

const keyOf = fn('wisp.keys', (p) => p[0]);
const valueOf = fn('wisp.values', (p) => p[1]);
