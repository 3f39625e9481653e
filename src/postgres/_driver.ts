/**
 * The PostgreSQL client, postgres.js, named once by its full `npm:`
 * specifier: a project that imports this package by path or by URL does
 * not see our `deno.json` import map, so a bare `"postgres"` would fail
 * there with `Import "postgres" not a dependency`. The version range is the
 * one in `deno.json` (the tests use the bare name), so `deno.lock` pins one
 * version for both.
 *
 * @module
 */

export { default } from "npm:postgres@^3.4.9";

/**
 * A known postgres.js defect (porsager/postgres#1154, #1208; seen on Deno
 * as denoland/deno#34667): a write shorter than 1 KiB is queued with
 * `setImmediate`, and when the server closes the connection before it runs
 * (a restart, a terminated backend), the queued callback calls `write` on
 * the already nulled socket. The `TypeError` is thrown from the timer, not
 * from any query, so no `catch` sees it and it ends the process. By the
 * upstream analysis (porsager/postgres#1176) the connection's queries were
 * rejected with `CONNECTION_CLOSED` by then (which the store retries or
 * reports), so the write is moot; #1209 reports that a query on a reserved
 * connection can instead be left waiting.
 *
 * While a `PostgresStore` holds this guard, that one error — a `TypeError`
 * about reading `write` of null, thrown from `nextWrite` in postgres.js's
 * `connection.js` — is stopped from ending the process, and counted; every
 * other uncaught error goes on as before. Returns the release function.
 */
export function holdWriteRaceGuard(): () => void {
  const target = globalThis as unknown as Partial<EventTarget>;
  if (typeof target.addEventListener !== "function") return () => {};
  if (guards++ === 0) target.addEventListener("error", onUncaught);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--guards === 0) target.removeEventListener!("error", onUncaught);
  };
}

/** Uncaught errors {@linkcode holdWriteRaceGuard} stopped in this process. */
export function writeRacesStopped(): number {
  return stopped;
}

let guards = 0;
let stopped = 0;

function onUncaught(event: Event): void {
  const error = (event as ErrorEvent).error;
  if (isWriteRace(error)) {
    event.preventDefault();
    stopped++;
  }
}

/** True for exactly the postgres.js `nextWrite` null-socket `TypeError`. */
export function isWriteRace(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  if (!/^Cannot read properties of null \(reading 'write'\)$/.test(error.message)) return false;
  const stack = typeof error.stack === "string" ? error.stack : "";
  // The frame that threw: nextWrite in postgres.js's connection.js.
  return /\bnextWrite \([^)]*postgres[^)]*[/\\]src[/\\]connection\.js:\d+:\d+\)/.test(stack);
}
