// The record encodings of wit/task.wit: one codec per record type, writing
// into a growable buffer and reading from a byte range. Plain ES module with
// no imports, so `node` can test it directly (test/codec.test.mjs).
//
// JavaScript type      codec           encoding
// string               string          the UTF-8 bytes
// Uint8Array           bytes           the bytes
// number (integer)     s64 / u64       8 bytes big-endian (s64: sign bit flipped)
// bigint               s64n / u64n     the same bytes, decoded as BigInt
// number               f64             order-preserving big-endian bits
// boolean              bool            one byte
// null                 unit            nothing
// null | T             option(T)       0, or 1 then T
// [a, b, ...]          tuple(A, B...)  u32le length + encoding for all but the last
// [k, v]               pair(K, V)      the 2-tuple
// T[]                  list(T)         u32le length + encoding per element
//
// `s64`/`u64` decode to a JS number and refuse values beyond 2^53 - 1 (they
// would lose precision); `s64n`/`u64n` decode to BigInt. Both accept either
// a safe-integer number or a BigInt when encoding, and write the same bytes.

/** A record that does not have the expected encoding, or a value a codec cannot encode. */
export class CodecError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CodecError';
  }
}

const UTF8 = new TextEncoder();
const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });
const SIGN64 = 0x8000000000000000n;
const TWO32 = 4294967296;

/** A growable byte buffer that codecs write records into. */
export class Writer {
  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  /** Makes room for `n` more bytes. */
  reserve(n) {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const buf = new Uint8Array(cap);
    buf.set(this.buf.subarray(0, this.pos));
    this.buf = buf;
    this.view = new DataView(buf.buffer);
  }

  /** Appends raw bytes. */
  bytes(src) {
    this.reserve(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Writes `value` with `codec` preceded by its u32le length. */
  prefixed(codec, value) {
    this.reserve(4);
    const at = this.pos;
    this.pos += 4;
    codec.write(this, value);
    this.view.setUint32(at, this.pos - at - 4, true);
  }

  /** The bytes written since `start`, copied out. */
  copy(start = 0) {
    return this.buf.slice(start, this.pos);
  }
}

function describe(v) {
  let s;
  try {
    s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) s = String(v);
  return `${Array.isArray(v) ? 'array' : typeof v} ${s.length > 60 ? s.slice(0, 60) + '...' : s}`;
}

function need8(name, start, end) {
  if (end - start !== 8) throw new CodecError(`field of ${end - start} bytes is not a ${name}`);
}

function readU32le(buf, at) {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

const scratch = new DataView(new ArrayBuffer(8));

function intParts(name, v, signed) {
  // The high and low 32-bit halves of an integer, as unsigned numbers.
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      throw new CodecError(`expected an integer for ${name}, got ${describe(v)}${Number.isInteger(v) ? ' (beyond 2^53: use a BigInt)' : ''}`);
    }
    if (!signed && v < 0) throw new CodecError(`${name} cannot hold the negative ${v}`);
    let hi = Math.floor(v / TWO32);
    const lo = v >>> 0;
    if (signed) hi = (hi ^ 0x80000000) >>> 0;
    else hi >>>= 0;
    return [hi, lo];
  }
  if (typeof v === 'bigint') {
    if (signed ? v < -SIGN64 || v >= SIGN64 : v < 0n || v > 0xffffffffffffffffn) {
      throw new CodecError(`${v}n does not fit in ${signed ? 'an s64' : 'a u64'}`);
    }
    let u = BigInt.asUintN(64, v);
    if (signed) u ^= SIGN64;
    scratch.setBigUint64(0, u);
    return [scratch.getUint32(0), scratch.getUint32(4)];
  }
  throw new CodecError(`expected an integer for ${name}, got ${describe(v)}`);
}

function integer(name, signed, big) {
  return {
    name,
    write(w, v) {
      if (typeof v === 'number' && Number.isSafeInteger(v) && (signed || v >= 0)) {
        // The common case without intParts' array: in an interpreter every allocation shows.
        const high = Math.floor(v / TWO32);
        w.reserve(8);
        w.view.setUint32(w.pos, signed ? (high ^ 0x80000000) >>> 0 : high >>> 0);
        w.view.setUint32(w.pos + 4, v >>> 0);
        w.pos += 8;
        return;
      }
      const [hi, lo] = intParts(name, v, signed);
      w.reserve(8);
      w.view.setUint32(w.pos, hi);
      w.view.setUint32(w.pos + 4, lo);
      w.pos += 8;
    },
    read(buf, start, end) {
      need8(signed ? 's64' : 'u64', start, end);
      let hi = ((buf[start] << 24) | (buf[start + 1] << 16) | (buf[start + 2] << 8) | buf[start + 3]) >>> 0;
      const lo = ((buf[start + 4] << 24) | (buf[start + 5] << 16) | (buf[start + 6] << 8) | buf[start + 7]) >>> 0;
      if (signed) hi = (hi ^ 0x80000000) | 0;
      if (big) {
        const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo);
        return signed ? BigInt.asIntN(64, u) : u;
      }
      const v = hi * TWO32 + lo;
      if (!Number.isSafeInteger(v)) {
        throw new CodecError(`${signed ? 's64' : 'u64'} value beyond 2^53 does not fit a JS number: declare the type ${name}n (BigInt)`);
      }
      return v;
    },
  };
}

/** `string`: the UTF-8 bytes. */
export const string = {
  name: 'string',
  write(w, v) {
    if (typeof v !== 'string') throw new CodecError(`expected a string, got ${describe(v)}`);
    w.reserve(v.length * 3);
    w.pos += UTF8.encodeInto(v, w.buf.subarray(w.pos)).written;
  },
  read(buf, start, end) {
    try {
      return UTF8_STRICT.decode(buf.subarray(start, end));
    } catch (e) {
      throw new CodecError(`record is not UTF-8: ${e.message}`);
    }
  },
};

/** `bytes`: a Uint8Array. */
export const bytes = {
  name: 'bytes',
  write(w, v) {
    if (!(v instanceof Uint8Array)) throw new CodecError(`expected a Uint8Array, got ${describe(v)}`);
    w.bytes(v);
  },
  read(buf, start, end) {
    return buf.slice(start, end);
  },
};

/** `s64` as a JS number (safe integers only). */
export const s64 = integer('s64', true, false);
/** `s64` as a BigInt. */
export const s64n = integer('s64n', true, true);
/** `u64` as a JS number (safe integers only). */
export const u64 = integer('u64', false, false);
/** `u64` as a BigInt. */
export const u64n = integer('u64n', false, true);

/** `f64`: order-preserving big-endian bits. */
export const f64 = {
  name: 'f64',
  write(w, v) {
    if (typeof v !== 'number') throw new CodecError(`expected a number for f64, got ${describe(v)}`);
    w.reserve(8);
    const view = w.view;
    const at = w.pos;
    view.setFloat64(at, v);
    const hi = view.getUint32(at);
    if (hi & 0x80000000) {
      view.setUint32(at, ~hi);
      view.setUint32(at + 4, ~view.getUint32(at + 4));
    } else {
      view.setUint32(at, hi ^ 0x80000000);
    }
    w.pos += 8;
  },
  read(buf, start, end) {
    need8('f64', start, end);
    for (let i = 0; i < 8; i++) scratch.setUint8(i, buf[start + i]);
    const hi = scratch.getUint32(0);
    if (hi & 0x80000000) {
      scratch.setUint32(0, hi ^ 0x80000000);
    } else {
      scratch.setUint32(0, ~hi);
      scratch.setUint32(4, ~scratch.getUint32(4));
    }
    return scratch.getFloat64(0);
  },
};

/** `bool`: one byte. */
export const bool = {
  name: 'bool',
  write(w, v) {
    if (typeof v !== 'boolean') throw new CodecError(`expected a boolean, got ${describe(v)}`);
    w.reserve(1);
    w.buf[w.pos++] = v ? 1 : 0;
  },
  read(buf, start, end) {
    if (end - start === 1 && buf[start] <= 1) return buf[start] === 1;
    throw new CodecError(`field of ${end - start} bytes is not a bool`);
  },
};

/** unit: no bytes; `null` in JavaScript. */
export const unit = {
  name: 'unit',
  write(w, v) {
    if (v !== null && v !== undefined) throw new CodecError(`expected null for unit, got ${describe(v)}`);
  },
  read(buf, start, end) {
    if (end !== start) throw new CodecError(`field of ${end - start} bytes is not a unit`);
    return null;
  },
};

/** `option<T>`: `null` (or `undefined`) is none. */
export function option(inner) {
  return {
    name: `option<${inner.name}>`,
    write(w, v) {
      w.reserve(1);
      if (v === null || v === undefined) {
        w.buf[w.pos++] = 0;
      } else {
        w.buf[w.pos++] = 1;
        inner.write(w, v);
      }
    },
    read(buf, start, end) {
      if (end - start === 1 && buf[start] === 0) return null;
      if (end > start && buf[start] === 1) return inner.read(buf, start + 1, end);
      throw new CodecError(`field of ${end - start} bytes is not an ${this.name}`);
    },
  };
}

/** A tuple of two or more elements, as a JS array. */
export function tuple(...elems) {
  if (elems.length < 2) throw new TypeError('a tuple needs two or more element types');
  const last = elems.length - 1;
  const name = elems.length === 2 ? `pair<${elems[0].name},${elems[1].name}>` : `tuple<${elems.map((e) => e.name).join(',')}>`;
  return {
    name,
    elems,
    write(w, v) {
      if (!Array.isArray(v) || v.length !== elems.length) {
        throw new CodecError(`expected a ${elems.length}-element array for ${name}, got ${describe(v)}`);
      }
      for (let i = 0; i < last; i++) {
        w.reserve(4);
        const at = w.pos;
        w.pos += 4;
        elems[i].write(w, v[i]);
        w.view.setUint32(at, w.pos - at - 4, true);
      }
      elems[last].write(w, v[last]);
    },
    read(buf, start, end) {
      const out = new Array(elems.length);
      let pos = start;
      for (let i = 0; i < last; i++) {
        if (pos + 4 > end) throw new CodecError(`record of ${end - start} bytes is too short for ${name}`);
        const n = readU32le(buf, pos);
        pos += 4;
        if (pos + n > end) throw new CodecError(`tuple field length ${n} exceeds the record`);
        out[i] = elems[i].read(buf, pos, pos + n);
        pos += n;
      }
      out[last] = elems[last].read(buf, pos, end);
      return out;
    },
  };
}

/** A key/value pair `[k, v]`: the 2-tuple. */
export function pair(key, value) {
  return tuple(key, value);
}

/** `list<T>`, as a JS array (any iterable when encoding). */
export function list(elem) {
  const name = `list<${elem.name}>`;
  return {
    name,
    elem,
    write(w, v) {
      if (v === null || typeof v !== 'object' || typeof v[Symbol.iterator] !== 'function') {
        throw new CodecError(`expected an array for ${name}, got ${describe(v)}`);
      }
      for (const x of v) w.prefixed(elem, x);
    },
    read(buf, start, end) {
      const out = [];
      let pos = start;
      while (pos < end) {
        if (pos + 4 > end) throw new CodecError('list element length is cut off');
        const n = readU32le(buf, pos);
        pos += 4;
        if (pos + n > end) throw new CodecError(`list element length ${n} exceeds the record`);
        out.push(elem.read(buf, pos, pos + n));
        pos += n;
      }
      return out;
    },
  };
}

/**
 * The encoding of values whose type was not declared, chosen by each value's
 * runtime type: string, Uint8Array (bytes), boolean, bigint (s64), integer
 * number (s64), other number (f64), null (unit), array of 2+ elements
 * (tuple). It cannot decode: a record written this way can only be read
 * back where its type is declared. `producer` names the function whose
 * output it is, for the error message.
 */
export function dynamic(producer = '?') {
  const codec = {
    name: `dynamic:${producer}`,
    write(w, v) {
      inferWrite(w, v);
    },
    read() {
      throw new CodecError(
        `the record type of the output of ${producer} is not known: give that transformation its type, e.g. .map(f, pair(string, s64))`,
      );
    },
  };
  return codec;
}

function inferWrite(w, v) {
  switch (typeof v) {
    case 'string':
      return string.write(w, v);
    case 'boolean':
      return bool.write(w, v);
    case 'bigint':
      return s64.write(w, v);
    case 'number':
      return Number.isSafeInteger(v) ? s64.write(w, v) : f64.write(w, v);
    case 'undefined':
      return;
    case 'object':
      if (v === null) return;
      if (v instanceof Uint8Array) return w.bytes(v);
      if (Array.isArray(v) && v.length >= 2) {
        for (let i = 0; i < v.length - 1; i++) {
          w.reserve(4);
          const at = w.pos;
          w.pos += 4;
          inferWrite(w, v[i]);
          w.view.setUint32(at, w.pos - at - 4, true);
        }
        return inferWrite(w, v[v.length - 1]);
      }
  }
  throw new CodecError(`cannot choose an encoding for ${describe(v)}: declare the transformation's output type`);
}

/** Whether `codec` is `dynamic` (its type was not declared). */
export function isDynamic(codec) {
  return codec.name.startsWith('dynamic:');
}

const SCALARS = { string, bytes, s64, s64n, u64, u64n, f64, bool, unit };

/**
 * The codec named by a type string: `string`, `s64`, `pair<string,s64>`,
 * `tuple<a,b,c>`, `option<T>`, `list<T>`, `dynamic:NAME`... (the names the
 * codecs carry, and the `type` field of wit/encoding-vectors.jsonl).
 */
export function parseType(text) {
  let pos = 0;
  const s = text.replace(/\s+/g, '');
  if (s.startsWith('dynamic:')) return dynamic(text.slice(text.indexOf(':') + 1));
  function ident() {
    const m = /^[a-z0-9]+/.exec(s.slice(pos));
    if (!m) throw new CodecError(`bad type ${JSON.stringify(text)} at ${pos}`);
    pos += m[0].length;
    return m[0];
  }
  function expect(c) {
    if (s[pos] !== c) throw new CodecError(`bad type ${JSON.stringify(text)}: expected '${c}' at ${pos}`);
    pos++;
  }
  function type() {
    const id = ident();
    if (SCALARS[id]) return SCALARS[id];
    expect('<');
    const args = [type()];
    while (s[pos] === ',') {
      pos++;
      args.push(type());
    }
    expect('>');
    if (id === 'option' && args.length === 1) return option(args[0]);
    if (id === 'list' && args.length === 1) return list(args[0]);
    if (id === 'pair' && args.length === 2) return pair(args[0], args[1]);
    if (id === 'tuple' && args.length >= 2) return tuple(...args);
    throw new CodecError(`bad type ${JSON.stringify(text)}: ${id} with ${args.length} arguments`);
  }
  const t = type();
  if (pos !== s.length) throw new CodecError(`bad type ${JSON.stringify(text)}: trailing ${s.slice(pos)}`);
  return t;
}

/** One value's encoding as a new Uint8Array. */
export function encode(codec, value) {
  const w = new Writer(64);
  codec.write(w, value);
  return w.copy();
}

/** The value a whole record encodes. */
export function decode(codec, record) {
  return codec.read(record, 0, record.length);
}

/** The [start, end) ranges of the key and the value of the pair record buf[start..end). */
export function splitPair(buf, start, end) {
  if (end - start < 4) throw new CodecError(`record of ${end - start} bytes is too short for a pair`);
  const n = readU32le(buf, start);
  if (start + 4 + n > end) throw new CodecError(`pair key length ${n} exceeds the record`);
  return start + 4 + n;
}

// Whole batches at once. In the component's interpreter every call and typed
// array view costs about a microsecond, so the common record types take one
// native call over the whole batch where the bytes allow it (ASCII text),
// and fall back to record by record otherwise (which also names the record
// at fault when one does not decode).

const ZEROS12 = '\0'.repeat(12);

/** The values of the records data[ends[i-1]..ends[i]) (a batch of wit/task.wit), decoded with `codec`. */
export function readAll(codec, data, ends) {
  const n = ends.length;
  if (n === 0) return [];
  if (codec === string) {
    const all = readAsciiText(data);
    if (all !== null) {
      const out = new Array(n);
      let start = 0;
      for (let i = 0; i < n; i++) {
        const end = ends[i];
        out[i] = all.substring(start, end);
        start = end;
      }
      return out;
    }
  } else if (codec.elems?.length === 2 && codec.elems[0] === string) {
    const out = readStringPairs(codec.elems[1], data, ends);
    if (out !== null) return out;
  }
  const out = new Array(n);
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    out[i] = codec.read(data, start, end);
    start = end;
  }
  return out;
}

/** `bytes` as one string when it is all ASCII (one char per byte), else null. */
function readAsciiText(bytes) {
  let s;
  try {
    s = UTF8_STRICT.decode(bytes);
  } catch {
    return null;
  }
  // A UTF-8 sequence of 2 to 4 bytes is 1 or 2 UTF-16 units: equal lengths mean only ASCII.
  return s.length === bytes.length ? s : null;
}

/**
 * Pairs (string, s64/u64): every byte but the keys' zeroed in a copy of the
 * batch, which is decoded once and split at the 12 zeros between two keys;
 * lengths and values read record by record. Null (the caller decodes record
 * by record) for other value types, non-ASCII keys, keys holding zeros
 * where the split goes wrong, or malformed records.
 */
function readStringPairs(value, data, ends) {
  if (value !== s64 && value !== u64) return null;
  const signed = value === s64;
  const n = ends.length;
  const scratch = data.slice();
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    const v = end - 8;
    if (v - start < 4 || v - start - 4 !== readU32le(data, start)) return null;
    scratch[start] = 0;
    scratch[start + 1] = 0;
    scratch[start + 2] = 0;
    scratch[start + 3] = 0;
    scratch[v] = 0;
    scratch[v + 1] = 0;
    scratch[v + 2] = 0;
    scratch[v + 3] = 0;
    scratch[v + 4] = 0;
    scratch[v + 5] = 0;
    scratch[v + 6] = 0;
    scratch[v + 7] = 0;
    start = end;
  }
  const all = readAsciiText(scratch);
  if (all === null) return null;
  const keys = all.substring(4, all.length - 8).split(ZEROS12);
  if (keys.length !== n) return null;
  const out = new Array(n);
  start = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    const k = keys[i];
    const v = end - 8;
    if (k.length !== v - start - 4) return null;
    let hi = ((data[v] << 24) | (data[v + 1] << 16) | (data[v + 2] << 8) | data[v + 3]) >>> 0;
    const lo = ((data[v + 4] << 24) | (data[v + 5] << 16) | (data[v + 6] << 8) | data[v + 7]) >>> 0;
    if (signed) hi = (hi ^ 0x80000000) | 0;
    let x = hi * TWO32 + lo;
    if (x > 9007199254740991 || x < -9007199254740991) x = value.read(data, v, end);
    out[i] = [k, x];
    start = end;
  }
  return out;
}

/** Appends `values` encoded with `codec` to `w`, pushing each record's end offset to `ends`. */
export function writeAll(codec, w, values, ends) {
  const n = values.length;
  if (codec === string) {
    if (writeAsciiText(w, values, ends)) return;
  } else if (codec.elems?.length === 2 && codec.elems[0] === string && (codec.elems[1] === s64 || codec.elems[1] === u64)) {
    if (writeStringIntPairs(w, values, ends, codec.elems[1] === s64)) return;
  }
  for (let i = 0; i < n; i++) {
    codec.write(w, values[i]);
    ends.push(w.pos);
  }
}

/** Strings as one encoding of their concatenation; false (nothing written) unless all are ASCII strings. */
function writeAsciiText(w, values, ends) {
  const n = values.length;
  for (let i = 0; i < n; i++) if (typeof values[i] !== 'string') return false;
  const all = values.join('');
  const base = w.pos;
  w.reserve(all.length * 3);
  const r = UTF8.encodeInto(all, w.buf.subarray(base));
  if (r.written !== all.length) return false; // not ASCII: w.pos did not move
  let pos = base;
  for (let i = 0; i < n; i++) {
    pos += values[i].length;
    ends.push(pos);
  }
  w.pos = pos;
  return true;
}

/**
 * Pairs (ASCII string, safe integer) for an s64/u64 value: the keys encoded
 * in one call with 12 zero bytes around each (room for the length before it
 * and the value after it), then the lengths and values written over the
 * zeros. False (nothing written) for any other batch.
 */
function writeStringIntPairs(w, values, ends, signed) {
  const n = values.length;
  const keys = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = values[i];
    if (!Array.isArray(p) || p.length !== 2) return false;
    const k = p[0];
    const x = p[1];
    if (typeof k !== 'string' || typeof x !== 'number' || !Number.isSafeInteger(x) || (!signed && x < 0)) return false;
    keys[i] = k;
  }
  const all = '\0\0\0\0' + keys.join(ZEROS12) + '\0\0\0\0\0\0\0\0';
  const base = w.pos;
  w.reserve(all.length * 3);
  const r = UTF8.encodeInto(all, w.buf.subarray(base));
  if (r.written !== all.length) return false;
  const view = w.view;
  let pos = base;
  for (let i = 0; i < n; i++) {
    const len = keys[i].length;
    const x = values[i][1];
    view.setUint32(pos, len, true);
    pos += 4 + len;
    const high = Math.floor(x / TWO32);
    view.setUint32(pos, signed ? (high ^ 0x80000000) >>> 0 : high >>> 0);
    view.setUint32(pos + 4, x >>> 0);
    pos += 8;
    ends.push(pos);
  }
  w.pos = pos;
  return true;
}

/** Code point order of two strings: the order of their UTF-8 bytes, as keys sort in the host. */
export function compareCodePoints(a, b) {
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
}
