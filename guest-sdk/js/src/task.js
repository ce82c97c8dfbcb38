// The guest half of a task: the `pipeline.task` resource of wit/task.wit, a
// chain of ops run over one partition batch by batch.
//
// Records are decoded once at the head of the chain (with the input type
// the driver put in the first op's args) and encoded once at its tail (with
// the last op's output type); between fused ops they travel as JS values.
// Any exception (a user function throwing, a record of the wrong encoding)
// fails the task with one message: the exception, then its stack.

import { CodecError, Writer, dynamic, parseType, string } from './codec.js';
import { label, resolve, resolveAggregator } from './functions.js';
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

/** One op of the chain: `feed` takes one value, `finish` flushes; both hand values to `emit`. */
class Stage {
  constructor(op, args, partition) {
    this.partition = partition;
    this.name = op.name;
    this.args = args;
    this.in = parseType(args.in ?? 'dynamic:?');
    this.out = parseType(args.out ?? 'dynamic:?');
    this.next = null; // the next stage, or the chain's output: both have feed(value)
  }

  finish() {}
}

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
  feed(v) {
    let r;
    try {
      r = this.f(v);
    } catch (e) {
      throw userError(this.name, e);
    }
    this.next.feed(r);
  }
}

class FilterStage extends MapStage {
  feed(v) {
    let keep;
    try {
      keep = this.f(v);
    } catch (e) {
      throw userError(this.name, e);
    }
    if (keep) this.next.feed(v);
  }
}

function each(stage, values, next) {
  if (values === null || values === undefined) return;
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) next.feed(values[i]);
    return;
  }
  if (typeof values[Symbol.iterator] !== 'function') {
    throw new TaskError(`op ${label(stage.name)}: expected an array or iterable of records, got ${typeof values}`);
  }
  try {
    for (const v of values) next.feed(v);
  } catch (e) {
    if (e instanceof TaskError) throw e;
    throw userError(stage.name, e);
  }
}

class FlatMapStage extends MapStage {
  feed(v) {
    let r;
    try {
      r = this.f(v);
    } catch (e) {
      throw userError(this.name, e);
    }
    each(this, r, this.next);
  }
}

class MapPartitionsStage extends MapStage {
  constructor(op, args, partition) {
    super(op, args, partition);
    this.values = [];
  }
  feed(v) {
    this.values.push(v);
  }
  finish() {
    const values = this.values;
    this.values = [];
    let r;
    try {
      r = this.f(values);
    } catch (e) {
      throw userError(this.name, e);
    }
    each(this, r, this.next);
  }
}

function pairOf(stage, v) {
  if (!Array.isArray(v) || v.length !== 2) throw new TaskError(`op ${label(stage.name)}: expected a [key, value] pair, got ${typeof v}`);
  return v;
}

class MapValuesStage extends MapStage {
  feed(v) {
    pairOf(this, v);
    const k = v[0];
    const x = v[1];
    let r;
    try {
      r = this.f(x);
    } catch (e) {
      throw userError(this.name, e);
    }
    this.next.feed([k, r]);
  }
}

class FlatMapValuesStage extends MapStage {
  feed(v) {
    pairOf(this, v);
    const k = v[0];
    const x = v[1];
    let r;
    try {
      r = this.f(x);
    } catch (e) {
      throw userError(this.name, e);
    }
    each(this, r, { feed: (y) => this.next.feed([k, y]) });
  }
}

class KeyByStage extends MapStage {
  feed(v) {
    let k;
    try {
      k = this.f(v);
    } catch (e) {
      throw userError(this.name, e);
    }
    this.next.feed([k, v]);
  }
}

/** Strings sorted by code point, which is the order of their UTF-8 bytes. */
function sortUtf8(keys) {
  keys.sort(); // UTF-16 code unit order: the same unless a key has a surrogate or a char >= U+E000
  if (keys.some((k) => /[\uD800-\uFFFF]/.test(k))) {
    keys.sort((a, b) => {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) {
        let x = a.charCodeAt(i);
        let y = b.charCodeAt(i);
        if (x !== y) {
          if (x >= 0xd800 && y >= 0xd800) {
            // Surrogates (astral code points) sort after U+E000..U+FFFF in code point order.
            x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
            y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
          }
          return x - y;
        }
      }
      return a.length - b.length;
    });
  }
  return keys;
}

/** `combine` (values into combiners) or `merge` (combiners into combiners) per key; out in ascending key-byte order. */
class AggregateStage extends Stage {
  constructor(op, args, merge) {
    super(op, args);
    // The host sends the aggregator op with the same args to both sides: a merge reads (k, c) pairs.
    if (merge) this.in = this.out;
    const agg = resolveAggregator(op.name);
    this.create = merge ? (c) => c : agg.create;
    this.add = merge ? agg.mergeCombiners : agg.mergeValue;
    this.key = this.out.elems?.[0] ?? this.in.elems?.[0] ?? dynamic(label(op.name));
    this.stringKeys = this.key === string;
    this.table = new Map();
    this.keyWriter = new Writer(256);
    if (this.stringKeys) this.feed = this.feedString;
    this.dict = Object.create(null);
  }

  /** `feed` for string keys (the common case), keyed by the JS string itself. */
  feedString(v) {
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') this.notAStringPair(v);
    const k = v[0];
    const table = this.dict;
    const old = table[k];
    try {
      table[k] = old === undefined ? this.create(v[1]) : this.add(old, v[1]);
    } catch (e) {
      throw userError(this.name, e);
    }
  }

  notAStringPair(v) {
    pairOf(this, v);
    throw new TaskError(`op ${label(this.name)}: expected a string key, got ${typeof v[0]}`);
  }

  feed(v) {
    if (!Array.isArray(v) || v.length !== 2) pairOf(this, v);
    const k = v[0];
    const x = v[1];
    const table = this.table;
    const id = this.keyId(k);
    const entry = table.get(id);
    try {
      if (entry === undefined) {
        table.set(id, [k, this.create(x)]);
      } else {
        entry[1] = this.add(entry[1], x);
      }
    } catch (e) {
      throw userError(this.name, e);
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
    const table = this.table;
    this.table = new Map();
    if (this.stringKeys) {
      const dict = this.dict;
      this.dict = Object.create(null);
      for (const k of sortUtf8(Object.keys(dict))) this.next.feed([k, dict[k]]);
    } else {
      for (const id of [...table.keys()].sort()) this.next.feed(table.get(id));
    }
  }
}

/** `foreach`: `f(x)` for its effects (accumulators); nothing out. */
class ForeachStage extends MapStage {
  feed(v) {
    try {
      this.f(v);
    } catch (e) {
      throw userError(this.name, e);
    }
  }
}

/** `foreachPartition`: `f(records)` once per partition for its effects; nothing out. */
class ForeachPartitionStage extends MapPartitionsStage {
  finish() {
    const values = this.values;
    this.values = [];
    try {
      this.f(values);
    } catch (e) {
      throw userError(this.name, e);
    }
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
  feed(v) {
    try {
      this.acc = this.f(this.acc, v);
    } catch (e) {
      throw userError(this.name, e);
    }
  }
  finish() {
    this.next.feed(this.acc);
  }
}

const NONE = Symbol('none');

class ReduceStage extends MapStage {
  static arity = 2;

  constructor(op, args, partition) {
    super(op, args, partition);
    this.acc = NONE;
  }
  feed(v) {
    if (this.acc === NONE) {
      this.acc = v;
      return;
    }
    try {
      this.acc = this.f(this.acc, v);
    } catch (e) {
      throw userError(this.name, e);
    }
  }
  finish() {
    if (this.acc !== NONE) {
      const acc = this.acc;
      this.acc = NONE;
      this.next.feed(acc);
    }
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

/** The ops of one task, fused: values flow through every stage in order. */
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
    const tail = this.stages.length ? this.stages[this.stages.length - 1] : null;
    const outCodec = tail ? tail.out : null;
    const out = this.out;
    const ends = this.ends;
    const tailName = tail ? tail.name : '';
    const emitOut = (v) => {
      try {
        outCodec.write(out, v);
      } catch (e) {
        if (e instanceof CodecError) throw codecError(tailName, `cannot encode its result as ${outCodec.name}`, e);
        throw e;
      }
      ends.push(out.pos);
    };
    const sink = { feed: emitOut };
    for (let i = 0; i < this.stages.length; i++) this.stages[i].next = this.stages[i + 1] ?? sink;
  }

  take() {
    const data = this.out.buf.slice(0, this.out.pos);
    const ends = new Uint32Array(this.ends);
    this.out.pos = 0;
    this.ends.length = 0;
    return { data, ends };
  }

  push(data, ends) {
    const n = data.length;
    let start = 0;
    if (this.stages.length === 0) {
      this.out.bytes(data);
      for (const end of ends) this.ends.push(end);
      return this.take();
    }
    const head = this.stages[0];
    const codec = head.in;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i];
      if (end < start || end > n) throw new TaskError(`malformed batch: end offset ${end} out of order or past ${n} bytes`);
      let v;
      try {
        v = codec.read(data, start, end);
      } catch (e) {
        if (e instanceof CodecError) throw codecError(head.name, `input record is not a ${codec.name}`, e);
        throw e;
      }
      head.feed(v);
      start = end;
    }
    if (start !== n) throw new TaskError(`malformed batch: ${n} data bytes but records end at ${start}`);
    return this.take();
  }

  finish() {
    for (const stage of this.stages) stage.finish();
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
