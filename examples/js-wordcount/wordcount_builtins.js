// Word count in JavaScript with the host's built-in functions: splitting,
// pairing, summing and formatting the `word<TAB>count` lines run natively in
// the host (`builtins`): no record enters JavaScript. The output matches
// the Rust example's (examples/wordcount) byte for byte.
// Build: guest-sdk/js/build.sh examples/js-wordcount/wordcount_builtins.js target/js/wordcount_builtins.wasm
// Usage: wisp run target/js/wordcount_builtins.wasm -- INPUT OUTPUT_DIR

import { WispError, builtins as B, main, pipeline } from '../../guest-sdk/js/src/index.js';

function job(ctx, args) {
  if (args.length !== 2) throw new WispError(`expected INPUT OUTPUT_DIR, got ${args.length} arguments`);
  const [input, output] = args;
  ctx
    .textFile(input, Math.max(ctx.defaultParallelism(), 8))
    .flatMap(B.splitWhitespace)
    .map(B.pairWithOne)
    .reduceByKey(B.sum)
    .map(B.formatPair('\t'))
    .saveAsTextFile(output);
}

export const run = main(job);
export { pipeline };
