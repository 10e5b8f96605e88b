/** Small assertions for the simulator's tests (JSR's @std/assert is not reachable here). */
import { deepStrictEqual, ok } from "node:assert/strict";

/** Fails unless `value` is truthy. */
export function assert(value: unknown, message = "expected a truthy value"): asserts value {
  ok(value, message);
}

/** Fails unless `actual` deep-equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** Fails unless `actual` is within `epsilon` of `expected`. */
export function assertAlmostEquals(actual: number, expected: number, epsilon = 1e-7): void {
  ok(
    Math.abs(actual - expected) <= epsilon,
    `expected ${actual} to be within ${epsilon} of ${expected}`,
  );
}

/** Fails unless `actual > expected`. */
export function assertGreater(actual: number, expected: number): void {
  ok(actual > expected, `expected ${actual} > ${expected}`);
}

/** Fails unless `actual < expected`. */
export function assertLess(actual: number, expected: number): void {
  ok(actual < expected, `expected ${actual} < ${expected}`);
}

/** Fails unless `fn` rejects; returns the error. */
export async function assertRejects(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}
