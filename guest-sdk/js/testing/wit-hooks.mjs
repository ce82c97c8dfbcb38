// Node module hooks for the SDK's tests: every `wisp:task/...` import (the
// component's WIT imports, which only exist inside a component) resolves to
// wit-stub.mjs. Registered by test/shared.test.mjs.
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('wisp:task/')) return { url: new URL('./wit-stub.mjs', import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
