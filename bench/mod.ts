/** Benchmarks: `deno task bench actors|sim|proxy|routing|sessions`. */
export { benchCommand } from "./command.ts";
