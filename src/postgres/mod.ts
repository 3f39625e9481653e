/**
 * The `EventStore` contract on PostgreSQL: {@linkcode PostgresStore}, for
 * several processes on several machines writing one store. Same calls,
 * errors and semantics as the embedded `Store` (the conformance suite in
 * `tests/conformance/` runs on both), every method returning a promise.
 *
 * ## Using your own server
 *
 * `PostgresStore.connect({ url, schema })` creates the schema (default
 * `"batpak"`) and migrates it ({@linkcode MIGRATIONS}); the user needs
 * `CREATE` on the database the first time, then `USAGE` on the schema and
 * read/write on its tables. Many processes may connect to one schema at once.
 * Run the PostgreSQL suites against it with
 * `DATABASE_URL=postgres://user:pw@host/db deno test -A tests/postgres/`
 * (each test uses a fresh schema and drops it; the restart test starts its
 * own cluster when the PostgreSQL binaries are installed). Without
 * `DATABASE_URL` the tests start a throwaway cluster themselves.
 *
 * ## What this backend does differently
 *
 * - **Global positions have gaps.** `globalSequence` is
 *   `(transaction id − base) × 65536 + item + 1`: strictly increasing in
 *   the order every consumer sees events, never skipped and never repeated
 *   however many processes write — but not 1, 2, 3. Compare positions,
 *   never count them; save them with `saveCursor`.
 * - **Consumers wait for older transactions.** `read` and `subscribe` only
 *   deliver events of transactions older than every transaction still
 *   running on the server (`pg_snapshot_xmin`); that is what makes the
 *   order gapless. One long transaction anywhere on the server delays them
 *   (never reorders them): keep transactions short. A client's reads wait
 *   for its own appends (up to `visibilityWaitMs`).
 * - **Latency per append** is a few round trips and a commit (about 1–3 ms
 *   on a local server); concurrent appends of one client share a
 *   transaction (group commit, `committers` at a time), so throughput comes
 *   from concurrency. `durable()` has nothing left to do once appends
 *   resolved: a resolved append is committed.
 * - **The hash chain** covers the embedded store's event body byte for
 *   byte, with its 32-bit `globalSequence` field 0; `verify()` re-encodes
 *   every event and checks it.
 * - **Leases** use the server's clock unless `clock` is given; fences and
 *   cursor positions live in tables, not in the event log.
 * - **Copy a store physically** (`pg_basebackup`, replication,
 *   `pg_upgrade`): positions come from transaction ids, which a logical
 *   dump and restore into another cluster sends back to the beginning.
 *   `connect` (and a connected client's next append) refuses such a copy
 *   with an `InvalidArgumentError` naming the remedy: `pg_resetwal -x N` on
 *   the new cluster before its first start, then restore.
 *
 * @example
 * ```ts ignore
 * import { Coordinate, EventKind } from "@seed/batpak";
 * import { PostgresStore } from "@seed/batpak/postgres";
 * const store = await PostgresStore.connect({ url: Deno.env.get("DATABASE_URL")! });
 * await store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), { hello: "world" });
 * await store.close();
 * ```
 *
 * @module
 */

export { type PostgresDiagnostics, PostgresStore, READ_PAGE_EVENTS } from "./store.ts";
export {
  COMMITTERS_MAX_DEFAULT,
  CONNECT_TIMEOUT_MS_DEFAULT,
  POLL_INTERVAL_MS_DEFAULT,
  POOL_SIZE_DEFAULT,
  type PostgresStoreOptions,
  SCHEMA_DEFAULT,
  SCHEMA_NAME,
  STATEMENT_TIMEOUT_MS_DEFAULT,
  VISIBILITY_WAIT_MS_DEFAULT,
} from "./options.ts";
export { type Migration, MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
