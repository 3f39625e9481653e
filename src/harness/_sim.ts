/**
 * Scenarios as generators of store calls, so one definition runs on every
 * backend: a scenario yields each call it makes ({@linkcode call}) and gets
 * the result back. {@linkcode runSync} answers at once (the embedded store,
 * whose calls return values: what `runScenario` uses); {@linkcode runAsync}
 * awaits each call before the next (a backend whose calls return promises,
 * such as PostgreSQL). Never two calls at once, so a run stays a function
 * of its seed on both.
 *
 * @module
 */

import type { Awaitable } from "./_public.ts";

/** One store call a scenario waits for. */
export type Step = () => unknown;

/** A scenario, or a part of one: yields store calls, is resumed with their results, returns `T`. */
export type Sim<T> = Generator<Step, T, unknown>;

/** Make the call `fn` and resume with its value, or with its error thrown at the `yield*`. */
export function* call<T>(fn: () => Awaitable<T>): Sim<T> {
  return (yield fn) as T;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/**
 * Run `sim` to the end, answering every call at once. A call that returns
 * a promise is a bug in the backend (it is not synchronous): a `TypeError`,
 * thrown into the scenario so its `finally` blocks still close the store.
 */
export function runSync<T>(sim: Sim<T>): T {
  let next = sim.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = next.value();
    } catch (e) {
      next = sim.throw(e);
      continue;
    }
    if (isThenable(value)) {
      // Settle it quietly: its outcome must not become an unhandled rejection.
      Promise.resolve(value).catch(() => {});
      next = sim.throw(
        new TypeError("a synchronous harness run got a promise from the store: use runAsync"),
      );
      continue;
    }
    next = sim.next(value);
  }
  return next.value;
}

/** Run `sim` to the end, awaiting each call before making the next. */
export async function runAsync<T>(sim: Sim<T>): Promise<T> {
  let next = sim.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = await next.value();
    } catch (e) {
      next = sim.throw(e);
      continue;
    }
    next = sim.next(value);
  }
  return next.value;
}
