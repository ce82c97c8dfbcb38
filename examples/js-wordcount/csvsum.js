// Parse-and-aggregate in JavaScript: the sum of the quantity per category of
// `id,name,category,quantity,price` lines (wisp-bench --only python's second
// workload). Usage: wisp run target/js/csvsum.wasm -- INPUT OUTPUT_DIR

import { WispError, fn, main, pair, pipeline, s64, string } from '../../guest-sdk/js/src/index.js';

const parse = fn(function parse(line) {
  const fields = line.split(',');
  return [fields[2], Number.parseInt(fields[3], 10)];
}, { type: pair(string, s64) });

const add = fn(function add(a, b) {
  return a + b;
});

function job(ctx, args) {
  if (args.length !== 2) throw new WispError(`expected INPUT OUTPUT_DIR, got ${args.length} arguments`);
  const [input, output] = args;
  ctx
    .textFile(input, Math.max(ctx.defaultParallelism(), 8))
    .map(parse)
    .reduceByKey(add)
    .map(([k, s]) => `${k}\t${s}`)
    .saveAsTextFile(output);
}

export const run = main(job);
export { pipeline };
