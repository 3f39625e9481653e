/**
 * Options of {@linkcode PostgresStore.connect}, their defaults and limits,
 * and their validation into resolved settings.
 *
 * @module
 */

import { InvalidArgumentError } from "../core/errors.ts";
import { describeValue } from "./_engine.ts";

/**
 * How to reach the server and how to behave on it.
 *
 * @example
 * ```ts
 * import type { PostgresStoreOptions } from "@seed/batpak/postgres";
 * const options: PostgresStoreOptions = {
 *   url: "postgres://app@127.0.0.1:5432/app",
 *   schema: "orders_events",
 *   poolSize: 20,
 *   statementTimeoutMs: 10_000,
 * };
 * console.log(options.schema); // orders_events
 * ```
 */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (the password never appears in errors). */
  url: string;
  /** The PostgreSQL schema holding the store's tables, created and migrated on connect (default `"batpak"`). */
  schema?: string;
  /**
   * Epoch ms for event timestamps, ids and — when given — lease expiry
   * (inject a simulated clock for deterministic runs). Default: `Date.now`
   * for timestamps and ids, the server's clock for leases, so clients with
   * skewed clocks still agree on who holds a lease.
   */
  clock?: () => number;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * Append transactions this client runs at once (default: half the pool, at
   * most 4). Appends submitted meanwhile wait and go together into the next
   * transaction — group commit: one commit for many appends, each still
   * decided and answered on its own.
   */
  committers?: number;
  /** Server-side `statement_timeout` of every statement, ms (default 30 s). */
  statementTimeoutMs?: number;
  /** Give up connecting after this long, ms (default 10 s). */
  connectTimeoutMs?: number;
  /** Subscriptions poll this often when no notification arrives, ms (default 500): the safety net under LISTEN/NOTIFY. */
  pollIntervalMs?: number;
  /**
   * `read` and `subscribe` wait up to this long (ms, default 5 s) until this
   * client's own committed appends are visible in the global order (all
   * older transactions on the server finished), so a read after an append
   * sees it. Past that they return what is visible.
   */
  visibilityWaitMs?: number;
  /** `application_name` of the connections (default `"batpak"`), as shown in `pg_stat_activity`. */
  applicationName?: string;
  /**
   * Create the schema, or migrate it to this client's version, when needed
   * (default `true`). With `false` connecting changes nothing on the
   * server: the schema must already hold a store at this client's
   * `SCHEMA_VERSION`, else `connect` throws `NotFoundError` (no
   * store in that schema) or `InvalidArgumentError` (another version). For
   * tools that only look, such as the CLI's `inspect`, `verify`, `tail` and
   * `dump`: a mistyped schema name must not leave an empty store behind.
   */
  create?: boolean;
}

/** Default schema. */
export const SCHEMA_DEFAULT = "batpak";
/** Default pool size. */
export const POOL_SIZE_DEFAULT = 10;
/** The default `committers` is half the pool, at most this many. */
export const COMMITTERS_MAX_DEFAULT = 4;
/** Largest pool size accepted. */
export const POOL_SIZE_MAX = 1000;
/** Default statement timeout, ms. */
export const STATEMENT_TIMEOUT_MS_DEFAULT = 30_000;
/** Default connect timeout, ms. */
export const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
/** Default subscription poll interval, ms. */
export const POLL_INTERVAL_MS_DEFAULT = 500;
/** Default read-your-writes wait bound, ms. */
export const VISIBILITY_WAIT_MS_DEFAULT = 5_000;
/** Longest wait any timeout option accepts, ms (one hour). */
export const TIMEOUT_MS_MAX = 3_600_000;
/**
 * A schema name: lowercase letters, digits and `_`, not starting with a digit, at most 63 bytes.
 *
 * @example
 * ```ts
 * import { SCHEMA_NAME } from "@seed/batpak/postgres";
 * console.log(SCHEMA_NAME.test("orders_events"), SCHEMA_NAME.test("Orders")); // true false
 * ```
 */
export const SCHEMA_NAME: RegExp = /^[a-z_][a-z0-9_]{0,62}$/;

/** Resolved options. */
export interface Settings {
  url: string;
  /** The URL without its password, for messages. */
  where: string;
  schema: string;
  clock: (() => number) | undefined;
  poolSize: number;
  committers: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  pollIntervalMs: number;
  visibilityWaitMs: number;
  applicationName: string;
  /** Create or migrate the schema on connect (else require it as it is). */
  create: boolean;
}

function intOption(name: string, v: unknown, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(
      `PostgresStore.connect: ${name} must be an integer in ${min}..${max}, found ${
        describeValue(v)
      }`,
    );
  }
  return v;
}

/** The URL with its password (and query) removed, to name the server in messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? u.username + "@" : ""}${u.host}${u.pathname}`;
  } catch {
    return "postgres://(unparsable url)";
  }
}

/** Validate options and fill in the defaults. */
export function resolveOptions(options: PostgresStoreOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(
      `PostgresStore.connect needs { url, schema?, clock?, ... }, found ${describeValue(options)}`,
    );
  }
  const { url } = options;
  if (typeof url !== "string" || !/^postgres(ql)?:\/\//.test(url)) {
    throw new InvalidArgumentError(
      `PostgresStore.connect: url must be a postgres:// URL, found ${
        typeof url === "string" ? "a string of another scheme" : describeValue(url)
      }`,
    );
  }
  try {
    new URL(url);
  } catch {
    throw new InvalidArgumentError("PostgresStore.connect: url is not a valid URL");
  }
  const schema = options.schema ?? SCHEMA_DEFAULT;
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
    throw new InvalidArgumentError(
      `PostgresStore.connect: schema must match ${SCHEMA_NAME}, found ${describeValue(schema)}`,
    );
  }
  if (options.clock !== undefined && typeof options.clock !== "function") {
    throw new InvalidArgumentError(
      "PostgresStore.connect: clock must be a function returning epoch ms",
    );
  }
  const app = options.applicationName ?? "batpak";
  if (typeof app !== "string" || app.length > 63 || !/^[\x20-\x7e]*$/.test(app)) {
    throw new InvalidArgumentError(
      "PostgresStore.connect: applicationName must be printable ASCII, at most 63 characters",
    );
  }
  if (options.create !== undefined && typeof options.create !== "boolean") {
    throw new InvalidArgumentError(
      `PostgresStore.connect: create must be a boolean, found ${describeValue(options.create)}`,
    );
  }
  const poolSize = intOption("poolSize", options.poolSize, POOL_SIZE_DEFAULT, 1, POOL_SIZE_MAX);
  return {
    url,
    where: `${redactUrl(url)}?schema=${schema}`,
    schema,
    clock: options.clock,
    poolSize,
    committers: intOption(
      "committers",
      options.committers,
      Math.max(1, Math.min(COMMITTERS_MAX_DEFAULT, Math.floor(poolSize / 2))),
      1,
      poolSize,
    ),
    statementTimeoutMs: intOption(
      "statementTimeoutMs",
      options.statementTimeoutMs,
      STATEMENT_TIMEOUT_MS_DEFAULT,
      1,
      TIMEOUT_MS_MAX,
    ),
    connectTimeoutMs: intOption(
      "connectTimeoutMs",
      options.connectTimeoutMs,
      CONNECT_TIMEOUT_MS_DEFAULT,
      1,
      TIMEOUT_MS_MAX,
    ),
    pollIntervalMs: intOption(
      "pollIntervalMs",
      options.pollIntervalMs,
      POLL_INTERVAL_MS_DEFAULT,
      1,
      TIMEOUT_MS_MAX,
    ),
    visibilityWaitMs: intOption(
      "visibilityWaitMs",
      options.visibilityWaitMs,
      VISIBILITY_WAIT_MS_DEFAULT,
      0,
      TIMEOUT_MS_MAX,
    ),
    applicationName: app,
    create: options.create ?? true,
  };
}
