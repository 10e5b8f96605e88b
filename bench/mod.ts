/** Benchmarks: `deno task bench actors|sim|proxy|routing`. */
export { benchCommand } from "./command.ts";
