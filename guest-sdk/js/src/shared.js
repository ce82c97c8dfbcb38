// Shared variables (Spark's broadcast variables and accumulators) over the
// `shared` interface of wit/task.wit (wisp:task@0.2.0).
//
// Made on the driver (`ctx.broadcast(value)`, `ctx.longAccumulator()`...)
// and handed to a function as its argument (`rdd.mapWith(f, arg, type)`,
// `filterWith`, `flatMapWith`, `foreach`...): a handle travels in the op's
// args as JSON (`{"$wisp": "broadcast", id, type}`) and is revived on the
// executor, where `bc.value()` reads the bytes through
// `shared.broadcast-value` and decodes them once per guest instance, and
// `acc.add(x)` goes through `shared.accumulator-add`. The host counts an
// accumulator update once per partition a job computes
// (docs/shared-variables.md).

import * as driver from 'wisp:task/driver@0.2.0';
import * as shared from 'wisp:task/shared@0.2.0';

import * as C from './codec.js';

const UTF8 = new TextEncoder();
const UTF8_DECODE = new TextDecoder();

/** A refused shared-variable call (the host's message). */
export class SharedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SharedError';
  }
}

function call(f, ...args) {
  try {
    return f(...args);
  } catch (e) {
    throw new SharedError(typeof e?.payload === 'string' ? e.payload : e instanceof Error ? e.message : String(e));
  }
}

/** The default encoding of a broadcast value or a collection element: its JSON text (no BigInt, no typed arrays; NaN and Infinity become null). */
export const json = {
  name: 'json',
  write(w, v) {
    let text;
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw new C.CodecError(`cannot encode the value as JSON (${e.message}): give its type, e.g. list(string)`);
    }
    if (text === undefined) throw new C.CodecError(`cannot encode ${typeof v} as JSON: give its type`);
    w.bytes(UTF8.encode(text));
  },
  read(buf, start, end) {
    return JSON.parse(UTF8_DECODE.decode(buf.subarray(start, end)));
  },
};

function codecNamed(name) {
  return name === 'json' ? json : C.parseType(name);
}

/** Values decoded in this guest instance, by broadcast handle (each decoded once). */
const DECODED = new Map();

/** A read-only value shipped to each executor once (Spark's `Broadcast`). */
export class Broadcast {
  constructor(id, type) {
    this.id = id;
    this.type = type;
    this.cached = DECODED.get(id); // per handle too: value() per record is then a field read
  }

  /** The value, decoded on first use in this guest instance and kept; throws if the broadcast was destroyed. */
  value() {
    if (this.cached !== undefined) return this.cached.value;
    const known = DECODED.get(this.id);
    if (known !== undefined) {
      this.cached = known;
      return known.value;
    }
    const bytes = call(shared.broadcastValue, this.id);
    let value;
    try {
      value = C.decode(this.type, bytes);
    } catch (e) {
      throw new SharedError(`broadcast ${this.id}: its bytes are not a ${this.type.name}: ${e.message}`);
    }
    this.cached = { value };
    DECODED.set(this.id, this.cached);
    return value;
  }

  /**
   * Drops this instance's decoded copy (the next `value()` reads and decodes
   * the bytes again). The host has no call to drop executors' copies short of
   * `destroy()` (they keep the bytes for the application's life).
   */
  unpersist() {
    this.cached = undefined;
    DECODED.delete(this.id);
  }

  /** Forgets the broadcast (driver only): jobs started later cannot read it. */
  destroy() {
    this.cached = undefined;
    DECODED.delete(this.id);
    call(driver.destroyBroadcast, this.id);
  }

  toJSON() {
    return { $wisp: 'broadcast', id: this.id, type: this.type.name };
  }
}

/** Registers `value` (encoded with `type`, by default its JSON) and seeds this instance's decoded copy. */
export function makeBroadcast(value, type = json) {
  let bytes;
  try {
    bytes = C.encode(type, value);
  } catch (e) {
    throw new SharedError(`broadcast: ${e.message}`);
  }
  const id = call(driver.broadcast, bytes);
  DECODED.set(id, { value });
  return new Broadcast(id, type);
}

/** Accumulator kinds: the record codec of what is added, and of the value the driver reads. */
const KINDS = {
  'long-sum': { add: C.s64n, value: C.s64n },
  'double-sum': { add: C.f64, value: C.f64 },
  'long-min': { add: C.s64n, value: C.option(C.s64n) },
  'long-max': { add: C.s64n, value: C.option(C.s64n) },
  'double-min': { add: C.f64, value: C.option(C.f64) },
  'double-max': { add: C.f64, value: C.option(C.f64) },
  collection: null,
};

/** A BigInt as a number when it is exactly one, else as itself. */
function narrow(v) {
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * What tasks add to and the driver reads after an action (Spark's
 * `AccumulatorV2`). `kind` is `long-sum`, `double-sum`, `long-min`,
 * `long-max`, `double-min`, `double-max` or `collection` (whose elements
 * are encoded with `type`, by default their JSON).
 */
export class Accumulator {
  constructor(id, kind, type) {
    if (!(kind in KINDS)) throw new SharedError(`unknown accumulator kind ${JSON.stringify(kind)} (one of ${Object.keys(KINDS).join(', ')})`);
    this.id = id;
    this.kind = kind;
    this.type = kind === 'collection' ? type ?? json : KINDS[kind].add;
  }

  /** Adds a value (inside a task; the main may not add). */
  add(value) {
    let bytes;
    try {
      bytes = C.encode(this.type, this.type === C.f64 && typeof value === 'bigint' ? Number(value) : value);
    } catch (e) {
      throw new SharedError(`accumulator ${this.id}: cannot add ${typeof value}: ${e.message}`);
    }
    call(shared.accumulatorAdd, this.id, bytes);
  }

  /**
   * The value merged from the jobs that ended so far (driver only): a number
   * for sums (a BigInt for a long sum beyond 2^53), a number or null (before
   * any add) for min and max, an array for a collection.
   */
  value() {
    const bytes = call(driver.accumulatorValue, this.id);
    if (this.kind === 'collection') return C.decode(C.list(C.bytes), bytes).map((b) => C.decode(this.type, b));
    return narrow(C.decode(KINDS[this.kind].value, bytes));
  }

  toJSON() {
    return { $wisp: 'accumulator', id: this.id, kind: this.kind, type: this.type.name };
  }
}

/** A new accumulator of `kind` on the driver. */
export function makeAccumulator(kind, type) {
  if (!(kind in KINDS)) throw new SharedError(`unknown accumulator kind ${JSON.stringify(kind)} (one of ${Object.keys(KINDS).join(', ')})`);
  return new Accumulator(call(driver.accumulator, kind), kind, type);
}

const HEX = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * `JSON.stringify` replacer of a function's argument: handles become
 * `{"$wisp": ...}` through their `toJSON`; BigInts and Uint8Arrays are
 * marked so that `reviveArg` gives them back.
 */
export function argReplacer(_key, v) {
  if (typeof v === 'bigint') return { $wisp: 'bigint', v: v.toString() };
  if (v instanceof Uint8Array) return { $wisp: 'bytes', hex: HEX(v) };
  if (typeof v === 'function') throw new TypeError('a function argument cannot hold functions');
  return v;
}

/** `JSON.parse` reviver of a function's argument (the inverse of `argReplacer`). */
export function reviveArg(_key, v) {
  if (v === null || typeof v !== 'object' || typeof v.$wisp !== 'string') return v;
  switch (v.$wisp) {
    case 'broadcast':
      return new Broadcast(v.id, codecNamed(v.type));
    case 'accumulator':
      return new Accumulator(v.id, v.kind, codecNamed(v.type));
    case 'bigint':
      return BigInt(v.v);
    case 'bytes': {
      const out = new Uint8Array(v.hex.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = parseInt(v.hex.slice(2 * i, 2 * i + 2), 16);
      return out;
    }
  }
  return v;
}
