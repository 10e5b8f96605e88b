/** Actor addresses: `kind/id` strings, built and split in one place. */

/** Where an actor lives: `kind/id`, unique within an actor system. */
export type Address = string;

/** Builds the address of actor `id` of `kind` (a kind has no `/`; an id may). */
export function address(kind: string, id: string): Address {
  if (kind.length === 0 || kind.includes("/")) {
    throw new TypeError(`Actor kind "${kind}" is invalid: use a non-empty name without "/"`);
  }
  return `${kind}/${id}`;
}

/** Splits an address into its kind and id. */
export function parseAddress(addr: Address): { kind: string; id: string } {
  const slash = addr.indexOf("/");
  if (slash <= 0) {
    throw new TypeError(`Address "${addr}" is invalid: write it as "kind/id"`);
  }
  return { kind: addr.slice(0, slash), id: addr.slice(slash + 1) };
}
