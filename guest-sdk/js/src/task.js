// The guest half of a task: the `pipeline.task` resource of wit/task.wit, a
// chain of ops run over one partition batch by batch.
//
// The chain works a batch at a time: the batch's records are decoded at once
// at the head of the chain (with the input type the driver put in the first
// op's args: codec.js readAll), every op runs over the whole array of values
// with one `try` per op and batch, and the last op's values are encoded at
// once at its tail (writeAll); between fused ops they travel as JS values.
// Any exception (a user function throwing, a record of the wrong encoding)
// fails the task with one message: the exception, then its stack.

import {
  CodecError,
  Writer,
  compareCodePoints,
  dynamic,
  parseType,
  readAll,
  string,
  writeAll,
} from './codec.js';
import { identity, label, resolve, resolveAggregator } from './functions.js';
import { reviveArg } from './shared.js';

/** A failure of one op, already formatted as the task's error message. */
export class TaskError extends Error {}

const SDK_FRAME = /(?:guest-sdk\/js\/src\/|initializer\.js)/;

/** The task error for an exception thrown by the user function of op `name`. */
export function userError(name, e) {
  let msg = `javascript function ${label(name)} threw ${describeError(e)}`;
  if (name.startsWith('js:') && e instanceof ReferenceError) {
    msg += ' (a function passed inline is shipped as its source text and cannot use variables of its module: register it with fn() instead)';
  }
  return new TaskError(msg + stackOf(e));
}

/** `Name: message` of a thrown value (anything can be thrown in JS). */
export function describeError(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  try {
    return `${typeof e} ${typeof e === 'string' ? e : JSON.stringify(e)}`;
  } catch {
    return String(e);
  }
}

/** The user frames of an exception's stack, one per line after a newline; empty when there is none. */
export function stackOf(e) {
  const stack = e instanceof Error && typeof e.stack === 'string' ? e.stack : '';
  const frames = stack.split('\n').filter((l) => l.trim() !== '' && !SDK_FRAME.test(l));
  return frames.length ? '\nstack:\n' + frames.join('\n') : '';
}

function codecError(name, what, e) {
  return new TaskError(`op ${label(name)}: ${what}: ${e.message}`);
}

/**
 * One op of the chain over a whole batch: `run(values)` takes the batch's
 * values and returns the values it hands on (a new array); `finish()`
 * returns what is left when the input ends. One `try` per op and batch.
 */
class Stage {
  constructor(op, args, partition) {
    this.partition = partition;
    this.name = op.name;
    this.args = args;
    this.in = parseType(args.in ?? 'dynamic:?');
    this.out = parseType(args.out ?? 'dynamic:?');
  }

  finish() {
    return EMPTY;
  }
}

const EMPTY = [];

/**
 * `f` with the op's extra parameters bound: the partition index first when
 * `args.index` (mapPartitionsWithIndex), the function's argument (`args.with`,
 * revived: broadcast and accumulator handles, BigInts, bytes) last.
 */
function bind(f, args, partition, arity) {
  const g = args.index ? (...xs) => f(partition, ...xs) : f;
  if (!('with' in args)) return g;
  const a = args.with;
  return arity === 2 ? (x, y) => g(x, y, a) : (x) => g(x, a);
}

class MapStage extends Stage {
  constructor(op, args, partition) {
    super(op, args, partition);
    this.f = bind(resolve(op.name), args, partition, this.constructor.arity ?? 1);
  }
  run(vs) {
    const f = this.f;
    const n = vs.length;
    const out = new Array(n);
    try {
      for (let i = 0; i < n; i++) out[i] = f(vs[i]);
    } catch (e) {
      throw userError(this.name, e);
    }
    return out;
  }
}

class FilterStage extends MapStage {
  run(vs) {
    const f = this.f;
    const out = [];
    try {
      for (let i = 0; i < vs.length; i++) if (f(vs[i])) out.push(vs[i]);
    } catch (e) {
      throw userError(this.name, e);
    }
    return out;
  }
}

/** The records a flatMap-like function returned: an array as it is, any other iterable copied; null/undefined none. */
function listOf(stage, values) {
  if (Array.isArray(values)) return values;
  if (values === null || values === undefined) return EMPTY;
  if (typeof values[Symbol.iterator] !== 'function') {
    throw new TaskError(`op ${label(stage.name)}: expected an array or iterable of records, got ${typeof values}`);
  }
  try {
    return Array.from(values);
  } catch (e) {
    throw userError(stage.name, e);
  }
}

class FlatMapStage extends MapStage {
  run(vs) {
    const f = this.f;
    const n = vs.length;
    const parts = new Array(n);
    let i = 0;
    try {
      for (; i < n; i++) {
        const r = f(vs[i]);
        parts[i] = Array.isArray(r) ? r : listOf(this, r);
      }
    } catch (e) {
      if (e instanceof TaskError) throw e;
      throw userError(this.name, e);
    }
    // One native call flattens the batch (the function's arrays stay as they are inside).
    return parts.flat();
  }
}

class MapPartitionsStage extends MapStage {
  constructor(op, args, partition) {
    super(op, args, partition);
    this.parts = [];
  }
  run(vs) {
    this.parts.push(vs);
    return EMPTY;
  }
  takeValues() {
    const parts = this.parts;
    this.parts = [];
    return parts.length === 1 ? parts[0] : parts.flat();
  }
  finish() {
    const values = this.takeValues();
    let r;
    try {
      r = this.f(values);
    } catch (e) {
      throw userError(this.name, e);
    }
    return listOf(this, r);
  }
}

function pairOf(stage, v) {
  if (!Array.isArray(v) || v.length !== 2) throw new TaskError(`op ${label(stage.name)}: expected a [key, value] pair, got ${typeof v}`);
  return v;
}

class MapValuesStage extends MapStage {
  run(vs) {
    const f = this.f;
    const n = vs.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = vs[i];
      if (!Array.isArray(v) || v.length !== 2) pairOf(this, v);
    }
    try {
      for (let i = 0; i < n; i++) {
        const v = vs[i];
        out[i] = [v[0], f(v[1])];
      }
    } catch (e) {
      throw userError(this.name, e);
    }
    return out;
  }
}

class FlatMapValuesStage extends MapStage {
  run(vs) {
    const f = this.f;
    const out = [];
    for (let i = 0; i < vs.length; i++) {
      const v = pairOf(this, vs[i]);
      const k = v[0];
      let r;
      try {
        r = f(v[1]);
      } catch (e) {
        throw userError(this.name, e);
      }
      const ys = listOf(this, r);
      for (let j = 0; j < ys.length; j++) out.push([k, ys[j]]);
    }
    return out;
  }
}

class KeyByStage extends MapStage {
  run(vs) {
    const f = this.f;
    const n = vs.length;
    const out = new Array(n);
    try {
      for (let i = 0; i < n; i++) {
        const v = vs[i];
        out[i] = [f(v), v];
      }
    } catch (e) {
      throw userError(this.name, e);
    }
    return out;
  }
}

/** Strings sorted by code point, which is the order of their UTF-8 bytes. */
function sortUtf8(keys) {
  keys.sort(); // UTF-16 code unit order: the same unless a key has a surrogate or a char >= U+E000
  // One native scan of all keys at once rather than one regular expression call per key.
  if (/[\uD800-\uFFFF]/.test(keys.join(''))) {
    keys.sort(compareCodePoints);
  }
  return keys;
}

/**
 * `combine` (values into combiners) or `merge` (combiners into combiners)
 * per key; out in ascending key-byte order. String keys (the common case)
 * key a null-prototype object directly; other keys a Map by their encoding.
 */
class AggregateStage extends Stage {
  constructor(op, args, merge) {
    super(op, args);
    // The host sends the aggregator op with the same args to both sides: a merge reads (k, c) pairs.
    if (merge) this.in = this.out;
    const agg = resolveAggregator(op.name);
    this.create = merge || agg.create === identity ? null : agg.create;
    this.add = merge ? agg.mergeCombiners : agg.mergeValue;
    this.key = this.out.elems?.[0] ?? this.in.elems?.[0] ?? dynamic(label(op.name));
    this.stringKeys = this.key === string;
    this.table = new Map();
    this.keyWriter = new Writer(256);
    this.dict = Object.create(null);
  }

  run(vs) {
    if (this.stringKeys) this.runString(vs);
    else this.runAny(vs);
    return EMPTY;
  }

  /** For string keys, keyed by the JS string itself. */
  runString(vs) {
    const table = this.dict;
    const add = this.add;
    const create = this.create;
    const n = vs.length;
    let i = 0;
    try {
      if (create === null) {
        for (; i < n; i++) {
          const v = vs[i];
          if (!Array.isArray(v) || v.length !== 2) break;
          const k = v[0];
          if (typeof k !== 'string') break;
          const old = table[k];
          table[k] = old === undefined ? v[1] : add(old, v[1]);
        }
      } else {
        for (; i < n; i++) {
          const v = vs[i];
          if (!Array.isArray(v) || v.length !== 2) break;
          const k = v[0];
          if (typeof k !== 'string') break;
          const old = table[k];
          table[k] = old === undefined ? create(v[1]) : add(old, v[1]);
        }
      }
    } catch (e) {
      throw userError(this.name, e);
    }
    if (i < n) this.notAStringPair(vs[i]);
  }

  notAStringPair(v) {
    pairOf(this, v);
    throw new TaskError(`op ${label(this.name)}: expected a string key, got ${typeof v[0]}`);
  }

  runAny(vs) {
    const table = this.table;
    for (let i = 0; i < vs.length; i++) {
      const v = pairOf(this, vs[i]);
      const k = v[0];
      const x = v[1];
      const id = this.keyId(k);
      const entry = table.get(id);
      try {
        if (entry === undefined) {
          table.set(id, [k, this.create === null ? x : this.create(x)]);
        } else {
          entry[1] = this.add(entry[1], x);
        }
      } catch (e) {
        throw userError(this.name, e);
      }
    }
  }

  /** The key's encoding as a string of byte-valued chars: equal for equal bytes, ordered as the bytes. */
  keyId(k) {
    const w = this.keyWriter;
    w.pos = 0;
    try {
      this.key.write(w, k);
    } catch (e) {
      if (e instanceof CodecError) throw codecError(this.name, 'cannot encode a key', e);
      throw e;
    }
    let s = '';
    for (let i = 0; i < w.pos; i += 4096) s += String.fromCharCode.apply(null, w.buf.subarray(i, Math.min(w.pos, i + 4096)));
    return s;
  }

  finish() {
    if (this.stringKeys) {
      const dict = this.dict;
      this.dict = Object.create(null);
      const keys = sortUtf8(Object.keys(dict));
      const out = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        out[i] = [k, dict[k]];
      }
      return out;
    }
    const table = this.table;
    this.table = new Map();
    return [...table.keys()].sort().map((id) => table.get(id));
  }
}

/** `foreach`: `f(x)` for its effects (accumulators); nothing out. */
class ForeachStage extends MapStage {
  run(vs) {
    const f = this.f;
    try {
      for (let i = 0; i < vs.length; i++) f(vs[i]);
    } catch (e) {
      throw userError(this.name, e);
    }
    return EMPTY;
  }
}

/** `foreachPartition`: `f(records)` once per partition for its effects; nothing out. */
class ForeachPartitionStage extends MapPartitionsStage {
  finish() {
    const values = this.takeValues();
    try {
      this.f(values);
    } catch (e) {
      throw userError(this.name, e);
    }
    return EMPTY;
  }
}

class FoldStage extends MapStage {
  static arity = 2;

  constructor(op, args, partition) {
    super(op, args, partition);
    const zero = args.zero ?? '';
    const bytes = new Uint8Array(zero.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(zero.slice(2 * i, 2 * i + 2), 16);
    try {
      this.acc = this.out.read(bytes, 0, bytes.length);
    } catch (e) {
      throw codecError(this.name, 'cannot decode the zero value', e);
    }
  }
  run(vs) {
    const f = this.f;
    let acc = this.acc;
    try {
      for (let i = 0; i < vs.length; i++) acc = f(acc, vs[i]);
    } catch (e) {
      throw userError(this.name, e);
    }
    this.acc = acc;
    return EMPTY;
  }
  finish() {
    return [this.acc];
  }
}

const NONE = Symbol('none');

class ReduceStage extends MapStage {
  static arity = 2;

  constructor(op, args, partition) {
    super(op, args, partition);
    this.acc = NONE;
  }
  run(vs) {
    if (vs.length === 0) return EMPTY;
    const f = this.f;
    let i = 0;
    let acc = this.acc;
    if (acc === NONE) acc = vs[i++];
    try {
      for (; i < vs.length; i++) acc = f(acc, vs[i]);
    } catch (e) {
      throw userError(this.name, e);
    }
    this.acc = acc;
    return EMPTY;
  }
  finish() {
    if (this.acc === NONE) return EMPTY;
    const acc = this.acc;
    this.acc = NONE;
    return [acc];
  }
}

const STAGES = {
  map: MapStage,
  filter: FilterStage,
  'flat-map': FlatMapStage,
  'map-partitions': MapPartitionsStage,
  'map-values': MapValuesStage,
  'flat-map-values': FlatMapValuesStage,
  'key-by': KeyByStage,
  combine: class extends AggregateStage {
    constructor(op, args) {
      super(op, args, false);
    }
  },
  merge: class extends AggregateStage {
    constructor(op, args) {
      super(op, args, true);
    }
  },
  fold: FoldStage,
  reduce: ReduceStage,
};

const DECODER = new TextDecoder();

function opArgs(op) {
  if (!op.args || op.args.length === 0) return {};
  try {
    return JSON.parse(DECODER.decode(op.args), reviveArg);
  } catch (e) {
    throw new TaskError(`op ${label(op.name)}: its args are not the JS SDK's (${e.message})`);
  }
}

/** The ops of one task, fused: each batch's values go through every stage in order. */
export class Chain {
  constructor(ops, partition) {
    this.partition = partition;
    this.stages = ops.map((op) => {
      let make = STAGES[op.kind];
      if (make === undefined) throw new TaskError(`op kind ${op.kind} is not supported by the JS SDK`);
      try {
        const args = opArgs(op);
        if (args.foreach) make = op.kind === 'map-partitions' ? ForeachPartitionStage : ForeachStage;
        return new make(op, args, partition);
      } catch (e) {
        if (e instanceof TaskError) throw e;
        throw new TaskError(`op ${label(op.name)} (${op.kind}): ${e.message}`);
      }
    });
    this.out = new Writer();
    this.ends = [];
  }

  take() {
    const data = this.out.buf.slice(0, this.out.pos);
    const ends = new Uint32Array(this.ends);
    this.out.pos = 0;
    this.ends.length = 0;
    return { data, ends };
  }

  /** Runs `values` through the stages from index `from` on, then encodes what comes out of the last. */
  flow(values, from) {
    const stages = this.stages;
    for (let i = from; i < stages.length && values.length > 0; i++) values = stages[i].run(values);
    if (values.length === 0) return;
    const tail = stages[stages.length - 1];
    try {
      writeAll(tail.out, this.out, values, this.ends);
    } catch (e) {
      if (e instanceof CodecError) throw codecError(tail.name, `cannot encode its result as ${tail.out.name}`, e);
      throw e;
    }
  }

  push(data, ends) {
    const n = data.length;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i];
      if (end < start || end > n) throw new TaskError(`malformed batch: end offset ${end} out of order or past ${n} bytes`);
      start = end;
    }
    if (start !== n) throw new TaskError(`malformed batch: ${n} data bytes but records end at ${start}`);
    if (this.stages.length === 0) {
      this.out.bytes(data);
      for (let i = 0; i < ends.length; i++) this.ends.push(ends[i]);
      return this.take();
    }
    const head = this.stages[0];
    let values;
    try {
      values = readAll(head.in, data, ends);
    } catch (e) {
      if (e instanceof CodecError) throw codecError(head.name, `input record is not a ${head.in.name}`, e);
      throw e;
    }
    this.flow(values, 0);
    return this.take();
  }

  finish() {
    for (let i = 0; i < this.stages.length; i++) this.flow(this.stages[i].finish(), i + 1);
    return this.take();
  }
}

/** The `pipeline` export: componentize-js maps `result<_, string>` errors to thrown values. */
export class Task {
  constructor(chain) {
    this.chain = chain;
  }

  static create(ops, partition) {
    return new Task(guard(() => new Chain(ops, partition)));
  }

  push(input) {
    return guard(() => this.chain.push(input.data, input.ends));
  }

  finish() {
    return guard(() => this.chain.finish());
  }
}

function guard(f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof TaskError) throw e.message;
    // Never trap: an SDK bug still fails the task with a message.
    throw `javascript task failed with ${describeError(e)}${stackOf(e)}`;
  }
}
