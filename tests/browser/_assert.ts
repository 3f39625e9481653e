/**
 * A few assertions that run anywhere (Deno, a browser worker): the browser
 * suites cannot use `node:assert`. Failures throw `AssertionError` with what
 * was expected and what was found.
 *
 * @module
 */

/** A failed assertion. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return `Uint8Array(${value.length}) [${value.slice(0, 16)}]`;
  try {
    return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `${v}n` : v) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Fail unless `value` is truthy. */
export function ok(value: unknown, message = "expected a truthy value"): asserts value {
  if (!value) throw new AssertionError(`${message}: got ${show(value)}`);
}

/** Fail unless `actual === expected` (Object.is). */
export function equal<T>(actual: T, expected: T, message = ""): void {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

function deepEq(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return a.constructor === b.constructor && x.length === y.length &&
      x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** Fail unless `actual` and `expected` are structurally equal (typed arrays by bytes). */
export function deepEqual<T>(actual: T, expected: T, message = ""): void {
  if (!deepEq(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

/** What a thrown error must be: a class, or a predicate. */
export type ErrorMatcher = (new (...args: never[]) => Error) | ((err: unknown) => boolean);

function matches(err: unknown, matcher: ErrorMatcher): boolean {
  if (matcher.prototype instanceof Error || matcher === Error) return err instanceof matcher;
  return (matcher as (err: unknown) => boolean)(err);
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; kind?: string; message?: string };
  return `${e?.name ?? typeof err}${e?.code ? ` ${e.code}` : ""}${e?.kind ? `/${e.kind}` : ""}: ${
    e?.message ?? String(err)
  }`;
}

/** Fail unless `fn` throws an error `matcher` accepts; returns the error. */
export function throws(fn: () => unknown, matcher: ErrorMatcher, message = ""): unknown {
  try {
    fn();
  } catch (err) {
    if (!matches(err, matcher)) {
      throw new AssertionError(
        `${message ? message + ": " : ""}threw the wrong error: ${describe(err)}`,
      );
    }
    return err;
  }
  throw new AssertionError(`${message ? message + ": " : ""}expected an error, none was thrown`);
}

/** Fail unless `promise` rejects with an error `matcher` accepts; returns the error. */
export async function rejects(
  promise: Promise<unknown> | (() => Promise<unknown>),
  matcher: ErrorMatcher,
  message = "",
): Promise<unknown> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (err) {
    if (!matches(err, matcher)) {
      throw new AssertionError(
        `${message ? message + ": " : ""}rejected with the wrong error: ${describe(err)}`,
      );
    }
    return err;
  }
  throw new AssertionError(`${message ? message + ": " : ""}expected a rejection, it resolved`);
}
