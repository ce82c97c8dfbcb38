// The host's built-in functions (`wisp:builtins`): transformations that run
// natively in the host, at Rust speed, without entering this component's
// interpreter. Use them wherever a JS function goes; consecutive built-ins
// run together in the host:
//
//   import { builtins as B } from '../../guest-sdk/js/src/index.js';
//   ctx.textFile(input).flatMap(B.splitWhitespace).map(B.pairWithOne).reduceByKey(B.sum)
//
// The library is loaded (driver `load-functions("wisp:builtins")`) the first
// time a job's main uses one. Reference: docs/languages/builtins.md.

import * as C from './codec.js';
import { ForeignFunction } from './rdd.js';
import * as driver from 'wisp:task/driver@0.2.0';

const PATH = 'wisp:builtins';
const ENCODER = new TextEncoder();
let component;

/** A built-in: `typeFor(input)` is the codec of what it returns (of each piece, for a splitter). */
export class Builtin extends ForeignFunction {
  constructor(name, typeFor, args = '', extra = {}) {
    super(undefined, name, undefined);
    this.typeFor = typeFor;
    this.args = ENCODER.encode(args);
    this.python = extra.reduce; // the pairwise reduction on the driver for Rdd.reduce
    this.then = extra.then; // an op to run after the aggregation (mean: the mean of its combiner)
  }

  /** The library's component id, loaded on first use (on the driver: executors never ask). */
  get component() {
    if (component === undefined) component = driver.loadFunctions(PATH);
    return component;
  }

  // ForeignFunction's constructor assigns it: the id is the library's, whatever it says.
  set component(_ignored) {}
}

const fixed = (t) => () => t;
const same = (t) => t;

export const splitWhitespace = new Builtin('split_whitespace', fixed(C.string));
export const lower = new Builtin('lower', fixed(C.string));
export const upper = new Builtin('upper', fixed(C.string));
export const trim = new Builtin('trim', fixed(C.string));
export const parseInt = new Builtin('parse_int', fixed(C.s64));
export const parseFloat = new Builtin('parse_float', fixed(C.f64));
export const pairWithOne = new Builtin('pair_with_one', (t) => C.pair(t, C.s64));
const meanValue = new Builtin('mean_value', fixed(C.f64));

export const sum = new Builtin('sum', fixed(C.s64), '', { reduce: (a, b) => a + b });
export const sumFloat = new Builtin('sum_float', fixed(C.f64), '', { reduce: (a, b) => a + b });
export const count = new Builtin('count', fixed(C.s64));
export const min = new Builtin('min', same, '', { reduce: (a, b) => (b < a ? b : a) });
export const max = new Builtin('max', same, '', { reduce: (a, b) => (b > a ? b : a) });
export const mean = new Builtin('mean', fixed(C.tuple(C.f64, C.s64)), '', { then: meanValue });

/** Every piece of a string between `delimiter`s, empty pieces included. */
export function split(delimiter) {
  if (!delimiter) throw new TypeError('split: the delimiter is empty');
  return new Builtin('split', fixed(C.string), delimiter);
}

/** Field `index` (0-based) of a CSV line (RFC 4180 quoting). */
export function csvField(index) {
  return new Builtin('csv_field', fixed(C.string), String(index | 0));
}

/** Field `index` (0-based) of a tab-separated line. */
export function tsvField(index) {
  return new Builtin('tsv_field', fixed(C.string), String(index | 0));
}

/** The top-level field `name` of a JSON object line: a string's text, else the value's JSON text. */
export function jsonField(name) {
  return new Builtin('json_field', fixed(C.string), name);
}

/** Each [key, value] pair as the line `${key}${sep}${value}`; `key`/`value` name their types: 'str', 's64', 'u64' or 'f64'. */
export function formatPair(sep = '\t', key = 'str', value = 's64') {
  return new Builtin('format_pair', fixed(C.string), `${key}:${value}:${sep}`);
}
