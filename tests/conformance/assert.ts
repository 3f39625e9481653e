/**
 * A tiny assertion module for the conformance suite: web-standard only (no
 * `node:` or `Deno` imports), so the same cases run under `deno test`, in a
 * browser worker, or in any other runner.
 *
 * @module
 */

/** Thrown by every failed assertion. */
export class AssertionError extends Error {
  /** Build the error. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => {
      if (typeof x === "bigint") return `${x}n`;
      if (x instanceof Uint8Array) return `Uint8Array[${[...x].join(",")}]`;
      return x;
    });
  } catch {
    return String(v);
  }
}

/** Throw unless `cond` is truthy. */
export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(message);
}

/** Throw with `message`. */
export function fail(message: string): never {
  throw new AssertionError(message);
}

/** Deep structural equality: plain objects, arrays, Uint8Array, Date, bigint, NaN. */
export function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) {
      return false;
    }
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/** Throw unless `actual` deep-equals `expected`. */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  if (!equal(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${show(expected)}, found ${show(actual)}`,
    );
  }
}

/** An error class, as `instanceof` needs it. */
// deno-lint-ignore no-explicit-any
export type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/**
 * Run `fn` (sync or async) and return the error it throws or rejects with;
 * fail unless it is an instance of `cls`. A synchronous throw (the embedded
 * store) and a rejected promise (a remote backend) count the same.
 */
export async function assertFails<E extends Error>(
  fn: () => unknown,
  cls: ErrorClass<E>,
  message?: string,
): Promise<E> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  const what = message ? `${message}: ` : "";
  if (error === undefined) throw new AssertionError(`${what}expected ${cls.name}, nothing thrown`);
  if (!(error instanceof cls)) {
    const found = error instanceof Error
      ? `${error.constructor.name}: ${error.message}`
      : show(error);
    throw new AssertionError(`${what}expected ${cls.name}, found ${found}`);
  }
  return error;
}
