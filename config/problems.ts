/** Turns zod issues into one friendly line each: `models[1].replicas: expected a positive integer, got "two"`. */
import type { z } from "zod";
import { closest } from "./suggest.ts";

/** One problem found in a config, before it is printed. */
export interface Problem {
  /** Where in the YAML document it is (keys and list indices). */
  path: PropertyKey[];
  /** What is wrong and, where it can, what to write instead. */
  message: string;
}

/** The slice of a zod schema's internals this module reads (zod v4 keeps them under `_zod.def`). */
interface SchemaDef {
  type: string;
  [key: string]: unknown;
}

function defOf(schema: unknown): SchemaDef {
  return (schema as { _zod: { def: SchemaDef } })._zod.def;
}

/** Strips defaults, optionals and pipes down to the schema that checks the value itself. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (["default", "optional", "nullable", "prefault", "catch", "readonly"].includes(def.type)) {
      current = def["innerType"];
    } else if (def.type === "pipe") {
      current = def["in"];
    } else {
      return current;
    }
  }
}

/**
 * The schema that checks the value at `path` below `root`, following objects, lists, records and
 * the first union member that has the path.
 */
export function schemaAt(root: unknown, path: readonly PropertyKey[]): unknown | undefined {
  if (path.length === 0) return root;
  const [key, ...rest] = path;
  const def = defOf(unwrap(root));
  let next: unknown;
  if (def.type === "object" && typeof key === "string") {
    next = (def["shape"] as Record<string, unknown>)[key];
  } else if (def.type === "array" && typeof key === "number") {
    next = def["element"];
  } else if (def.type === "record") {
    next = def["valueType"];
  } else if (def.type === "union") {
    for (const option of def["options"] as unknown[]) {
      const found = schemaAt(option, path);
      if (found !== undefined) return found;
    }
  }
  return next === undefined ? undefined : schemaAt(next, rest);
}

/** The keys a mapping at this schema accepts (an object's fields, an enum-keyed record's names). */
export function allowedKeys(schema: unknown): string[] {
  const def = defOf(unwrap(schema));
  if (def.type === "object") return Object.keys(def["shape"] as Record<string, unknown>);
  if (def.type === "record") {
    const keyDef = defOf(unwrap(def["keyType"]));
    return keyDef.type === "enum" ? Object.keys(keyDef["entries"] as Record<string, unknown>) : [];
  }
  if (def.type === "union") return (def["options"] as unknown[]).flatMap(allowedKeys);
  return [];
}

interface Check {
  check: string;
  value?: number;
  minimum?: number;
  inclusive?: boolean;
  format?: string;
  protocol?: RegExp;
}

function checksOf(def: SchemaDef): Check[] {
  const checks = (def["checks"] as unknown[] | undefined) ?? [];
  return checks.map((c) => defOf(c) as unknown as Check);
}

function describeNumber(def: SchemaDef): string {
  const checks = checksOf(def);
  const integer = checks.some((c) => c.check === "number_format" && c.format === "safeint");
  const low = checks.find((c) => c.check === "greater_than");
  const high = checks.find((c) => c.check === "less_than");
  let min = low?.value;
  let max = high?.value;
  if (integer && low && !low.inclusive && min !== undefined) min += 1;
  if (integer && high && !high.inclusive && max !== undefined) max -= 1;
  const minInclusive = integer || (low?.inclusive ?? true);
  const maxInclusive = integer || (high?.inclusive ?? true);
  const noun = integer ? "integer" : "number";
  if (min === undefined && max === undefined) return `a${integer ? "n" : ""} ${noun}`;
  if (max === undefined) {
    if ((integer && min === 1) || (!integer && min === 0 && !minInclusive)) {
      return `a positive ${noun}`;
    }
    if (min === 0 && minInclusive) return `a${integer ? "n" : ""} ${noun} of 0 or more`;
    return `a${integer ? "n" : ""} ${noun} ${minInclusive ? "of at least" : "above"} ${min}`;
  }
  if (min === undefined) {
    return `a${integer ? "n" : ""} ${noun} ${maxInclusive ? "of at most" : "below"} ${max}`;
  }
  if (minInclusive && maxInclusive) return `a${integer ? "n" : ""} ${noun} from ${min} to ${max}`;
  return `a${integer ? "n" : ""} ${noun} ${minInclusive ? "of at least" : "above"} ${min} ` +
    `and ${maxInclusive ? "at most" : "below"} ${max}`;
}

function describeString(def: SchemaDef): string {
  if (def["format"] === "url") {
    return def["protocol"] instanceof RegExp && String(def["protocol"]).includes("https?")
      ? "an http:// or https:// URL"
      : "a URL";
  }
  const nonEmpty = checksOf(def).some((c) => c.check === "min_length" && (c.minimum ?? 0) >= 1);
  return nonEmpty ? "a non-empty string" : "a string";
}

function quoteList(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

function plural(description: string): string {
  const bare = description.replace(/^an? /, "");
  return /(number|integer|string|URL|list|mapping)$/.test(bare) ? `${bare}s` : bare;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Says in words what value a schema accepts: "a positive integer", `one of "local", "slurm"`. */
export function describeSchema(schema: unknown): string {
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case "number":
      return describeNumber(def);
    case "string":
      return describeString(def);
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${quoteList(Object.keys(def["entries"] as Record<string, unknown>))}`;
    case "array": {
      const nonEmpty = checksOf(def).some((c) => c.check === "min_length" && (c.minimum ?? 0) >= 1);
      return nonEmpty ? "a non-empty list" : "a list";
    }
    case "object":
      return `a mapping with keys ${allowedKeys(schema).join(", ")}`;
    case "record": {
      const keys = allowedKeys(schema);
      const names = keys.length > 0 ? `names (${keys.join(", ")})` : "names";
      return `a mapping of ${names} to ${plural(describeSchema(def["valueType"]))}`;
    }
    case "union": {
      const options = def["options"] as unknown[];
      const names = options.flatMap(enumValues);
      const record = options.find((o) => defOf(unwrap(o)).type === "record");
      // An enum beside a record keyed by the same names: say the names once.
      if (record && names.length > 0 && sameSet(names, allowedKeys(record))) {
        const value = plural(describeSchema(defOf(unwrap(record))["valueType"]));
        return `one of ${quoteList(names)}, or a mapping of those names to ${value}`;
      }
      return options.map(describeSchema).join(", or ");
    }
    default:
      return `a valid ${def.type}`;
  }
}

/** Shows a value the user wrote, the way they would recognise it. */
export function describeValue(value: unknown): string {
  if (value === null) return "an empty value";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/** Writes a path the way a reader of the YAML finds it: `models[1].replicas`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) {
      out += out === "" ? key : `.${key}`;
    } else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === "" ? "(top level)" : out;
}

function enumValues(schema: unknown): string[] {
  const def = defOf(unwrap(schema));
  if (def.type === "enum") return Object.keys(def["entries"] as Record<string, unknown>);
  if (def.type === "union") return (def["options"] as unknown[]).flatMap(enumValues);
  return [];
}

function didYouMean(word: unknown, candidates: readonly string[]): string {
  if (typeof word !== "string") return "";
  const hint = closest(word, candidates);
  return hint === undefined ? "" : ` (did you mean ${JSON.stringify(hint)}?)`;
}

function expected(schema: unknown, input: unknown): string {
  const what = schema === undefined ? "a valid value" : describeSchema(schema);
  if (input === undefined) return `required, expected ${what}`;
  const hint = schema === undefined ? "" : didYouMean(input, enumValues(schema));
  return `expected ${what}, got ${describeValue(input)}${hint}`;
}

/** The problems in one zod issue (an unknown-keys issue gives one per key). */
export function problemsOfIssue(issue: z.core.$ZodIssue, root: unknown): Problem[] {
  const path = issue.path as PropertyKey[];
  const schema = schemaAt(root, path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = schema === undefined ? [] : allowedKeys(schema);
      return issue.keys.map((key) => {
        const hint = closest(key, allowed);
        return {
          path: [...path, key],
          message: hint !== undefined
            ? `unknown key, did you mean "${hint}"?`
            : `unknown key; allowed keys here are ${allowed.join(", ")}`,
        };
      });
    }
    case "invalid_type":
    case "too_small":
    case "too_big":
    case "invalid_format":
    case "not_multiple_of":
    case "invalid_value":
      return [{ path, message: expected(schema, issue.input) }];
    case "invalid_union": {
      // When the value has the shape of exactly one member (its problems all lie inside the
      // value), report those problems; otherwise say which shapes are accepted.
      const inside = issue.errors.filter((e) => e.length > 0 && e.every((i) => i.path.length > 0));
      if (inside.length === 1) {
        return inside[0]!.flatMap((sub) =>
          problemsOfIssue({ ...sub, path: [...path, ...sub.path] } as z.core.$ZodIssue, root)
        );
      }
      return [{ path, message: expected(schema, issue.input) }];
    }
    case "custom":
      return [{ path, message: issue.message }];
    default:
      return [{ path, message: issue.message.charAt(0).toLowerCase() + issue.message.slice(1) }];
  }
}

/**
 * Every problem in `issues`, one line each. A refinement on a mapping that also has unknown keys
 * is dropped: it judged the mapping without them and would only repeat the same mistake.
 */
export function problemsOf(issues: readonly z.core.$ZodIssue[], root: unknown): Problem[] {
  const unknownAt = new Set(
    issues.filter((i) => i.code === "unrecognized_keys").map((i) =>
      formatPath(i.path as PropertyKey[])
    ),
  );
  return issues
    .filter((i) => !(i.code === "custom" && unknownAt.has(formatPath(i.path as PropertyKey[]))))
    .flatMap((issue) => problemsOfIssue(issue, root));
}
