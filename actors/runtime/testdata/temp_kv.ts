/** Test helper: a KV file in a fresh temporary directory, removed afterwards. */

/** Runs `fn` with the path of a KV file in a new temporary directory, then removes the directory. */
export async function withKvPath<T>(prefix: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(`${dir}/state.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Like {@linkcode withKvPath}, with the store opened for `fn` and closed after it. */
export function withOpenKv<T>(prefix: string, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  return withKvPath(prefix, async (path) => {
    const kv = await Deno.openKv(path);
    try {
      return await fn(kv);
    } finally {
      kv.close();
    }
  });
}
