// A stand-in for the host's `driver` and `shared` imports under node: broadcast
// bytes in a table, accumulator adds recorded. State lives on
// `globalThis.wispStub` so that tests can seed and inspect it.
const stub = (globalThis.wispStub ??= { broadcasts: new Map(), added: [], reads: 0 });

function refuse(message) {
  const e = new Error(message);
  e.payload = message; // as componentize-js reports an import's `err`
  throw e;
}

export function broadcast(bytes) {
  const id = stub.broadcasts.size + 100;
  stub.broadcasts.set(id, bytes);
  return id;
}

export function destroyBroadcast(id) {
  if (!stub.broadcasts.delete(id)) refuse(`broadcast ${id} was destroyed (or never made)`);
}

export function broadcastValue(id) {
  stub.reads++;
  return stub.broadcasts.get(id) ?? refuse(`broadcast ${id} does not exist or was destroyed before this job started`);
}

export function accumulatorAdd(id, bytes) {
  stub.added.push([id, bytes]);
}
