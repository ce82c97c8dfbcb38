// Named functions: how an op names a JS function, and how an executor finds
// it again.
//
// An executor runs a fresh instance of the job's component that never ran
// the job's main, so a function must be found from its name alone:
//
// * `fn(f)` / `fn(name, f)` at the top level of a module registers `f`
//   under a name. componentize-js evaluates the module top level when it
//   builds the component, so the registry is part of every instance.
// * Any other function is shipped as its source text (`js:` + source) and
//   compiled on the executor with `new Function`. Such a function must not
//   use variables of its module or of an enclosing function (like Spark's
//   closures, it is cut off from them); globals and its arguments are fine.
//
// Aggregators of combineByKey are named `agg:` + JSON of the three names.

const REGISTRY = new Map(); // name -> function
const NAMES = new WeakMap(); // function -> { name, type }
const COMPILED = new Map(); // shipped source -> function

/**
 * Registers `f` under `name` (default: `f.name`) so executors find it by
 * name. `options.type` is the codec of what `f` returns (of each element
 * for flatMap-like ops): the type transformations use when they are not
 * given one. Returns `f`.
 */
export function fn(name, f, options) {
  if (typeof name === 'function') {
    options = f;
    f = name;
    name = f.name;
  }
  if (typeof f !== 'function') throw new TypeError('fn(name, f): f must be a function');
  if (!name) throw new TypeError('fn(f): an anonymous function needs a name: fn("name", f)');
  if (name.startsWith('js:') || name.startsWith('agg:')) throw new TypeError(`fn: the name ${name} is reserved`);
  const known = REGISTRY.get(name);
  if (known !== undefined && known !== f) throw new TypeError(`fn: two functions registered as ${name}`);
  REGISTRY.set(name, f);
  NAMES.set(f, { name, type: options?.type });
  return f;
}

/** The name an op gives `f`: its registered name, else its source text. */
export function nameOf(f) {
  if (typeof f !== 'function') throw new TypeError(`expected a function, got ${typeof f}`);
  const known = NAMES.get(f);
  if (known) return known.name;
  const src = Function.prototype.toString.call(f);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) throw new TypeError(`${f.name || 'a native function'} cannot be shipped: wrap it in a function`);
  return 'js:' + src;
}

/** The output type `f` was registered with, if any. */
export function declaredType(f) {
  return NAMES.get(f)?.type;
}

/** A short label of an op name for messages: the registered name, or the function's name, or its source cut short. */
export function label(name) {
  if (!name.startsWith('js:')) return name;
  const src = name.slice(3);
  const m = /^(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/.exec(src);
  if (m) return m[1];
  const flat = src.replace(/\s+/g, ' ');
  return flat.length > 60 ? flat.slice(0, 57) + '...' : flat;
}

/** The function an op name stands for, or throws naming why not. */
export function resolve(name) {
  const f = REGISTRY.get(name);
  if (f !== undefined) return f;
  if (name.startsWith('js:')) {
    let g = COMPILED.get(name);
    if (g === undefined) {
      const src = name.slice(3);
      try {
        g = new Function(`"use strict"; return (${src});`)();
      } catch (e) {
        throw new Error(`cannot compile the shipped function ${label(name)}: ${e}`);
      }
      if (typeof g !== 'function') throw new Error(`the shipped source ${label(name)} is not a function`);
      COMPILED.set(name, g);
    }
    return g;
  }
  throw new Error(`op name ${JSON.stringify(name)} does not name a function of this component (register it with fn() at the top level of a module)`);
}

/** The op name of the aggregator (create, mergeValue, mergeCombiners) of combineByKey. */
export function aggregatorName(create, mergeValue, mergeCombiners) {
  return 'agg:' + JSON.stringify([nameOf(create), nameOf(mergeValue), nameOf(mergeCombiners)]);
}

/** The three functions an aggregator name stands for; a plain function name is a reducer `(v, v) => v`. */
export function resolveAggregator(name) {
  if (name.startsWith('agg:')) {
    const [c, mv, mc] = JSON.parse(name.slice(4));
    return { create: resolve(c), mergeValue: resolve(mv), mergeCombiners: resolve(mc) };
  }
  const f = resolve(name);
  return { create: identity, mergeValue: f, mergeCombiners: f };
}

/** The combiner creator of a plain reducer: the value itself. */
export function identity(v) {
  return v;
}
