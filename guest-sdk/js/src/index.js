// Wisp jobs in JavaScript: a Spark-like RDD API over the `wisp:task` WIT
// contract (wit/task.wit), built into components with componentize-js.
//
// A job module registers its transformations with `fn` (or passes
// self-contained functions inline), writes a main `job(ctx, args)`, and
// exports the two things the `job` world needs:
//
//   import { fn, main, pipeline, pair, string, s64 } from '../../guest-sdk/js/src/index.js';
//   const words = fn(function words(line) { return line.split(' '); });
//   function job(ctx, [input, output]) {
//     ctx.textFile(input, 8).flatMap(words).map((w) => [w, 1], pair(string, s64))
//       .reduceByKey((a, b) => a + b).map(([w, c]) => `${w}\t${c}`).saveAsTextFile(output);
//   }
//   export const run = main(job);
//   export { pipeline };
//
// Build: guest-sdk/js/build.sh APP_DIR/MODULE.js OUTPUT.wasm

import { describeError, stackOf, Task } from './task.js';
import { Context, WispError } from './rdd.js';
import { SharedError } from './shared.js';

export { CodecError, Writer, bool, bytes, decode, dynamic, encode, f64, list, option, pair, parseType, s64, s64n, string, tuple, u64, u64n, unit } from './codec.js';
export { fn } from './functions.js';
export * as builtins from './builtins.js';
export { Context, ForeignFunction, Functions, Rdd, WispError, inferType } from './rdd.js';
export { Accumulator, Broadcast, SharedError, json } from './shared.js';
// Installs takeOrdered, zipWithIndex, stats, treeAggregate... on Rdd.prototype.
export { StatCounter, compareValues } from './more.js';

/** The `pipeline` export of the `job` world: re-export it from the job module (`export { pipeline }`). */
export const pipeline = { Task };

/** The `run` export for the job main `job(ctx, args)`: `export const run = main(job)` in the job module. */
export function main(job) {
  return function run(args) {
    try {
      job(new Context(), Array.from(args));
    } catch (e) {
      // componentize-js turns a thrown string into the `err` of `result<_, string>`.
      if (e instanceof WispError || e instanceof SharedError) throw e.message;
      throw `javascript main threw ${describeError(e)}${stackOf(e)}`;
    }
  };
}
