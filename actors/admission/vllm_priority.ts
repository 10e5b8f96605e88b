/** vLLM's request `priority` field spliced into a JSON body's bytes, for replicas run with `--scheduling-policy priority`. */

const CLOSE_BRACE = 0x7d;
const OPEN_BRACE = 0x7b;
const encoder = new TextEncoder();

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * `body` (a JSON object's bytes) with `"priority": priority` added as its last member, without
 * parsing it again: one copy of the bytes. A `priority` the client sent stays in the text, but
 * JSON readers such as Python's keep the last of duplicate keys, so the gateway's value wins.
 * Returns `body` itself when it does not end in `}` (not an object: the replica will refuse it).
 */
export function withVllmPriority(body: Uint8Array, priority: number): Uint8Array {
  let end = body.length - 1;
  while (end >= 0 && isSpace(body[end]!)) end--;
  if (end < 0 || body[end] !== CLOSE_BRACE) return body;
  let last = end - 1;
  while (last >= 0 && isSpace(body[last]!)) last--;
  const empty = last >= 0 && body[last] === OPEN_BRACE;
  const member = encoder.encode(`${empty ? "" : ","}"priority":${Math.trunc(priority)}}`);
  const out = new Uint8Array(end + member.length);
  out.set(body.subarray(0, end), 0);
  out.set(member, end);
  return out;
}
