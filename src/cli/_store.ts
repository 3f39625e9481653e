/**
 * Where a command's store is, and opening it without creating anything.
 *
 * The `<store>` argument of `inspect`, `verify`, `tail` and `dump` is a
 * directory or a `postgres://` / `postgresql://` URL (optional
 * `?schema=NAME`, default `batpak`). `Store.open` creates a missing
 * directory and `PostgresStore.connect` a missing schema, which is right for
 * an application and wrong here: a typo must not leave an empty store
 * behind. So a directory must already hold segment files, and a schema is
 * connected with `create: false`.
 *
 * A relative directory is resolved against `INIT_CWD` when it is set:
 * `deno task` (and npm) run a task in the package's folder and put the
 * folder the user typed the command in there, so `deno task cli inspect
 * ./data` means the `./data` the user sees.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { Store, type StoreReader } from "../../mod.ts";
import type { PostgresStore } from "../postgres/mod.ts";
import { SCHEMA_DEFAULT, SCHEMA_NAME } from "../postgres/options.ts";
import { CliError, UsageError } from "./_args.ts";

/** Segment file names, as documented in the public contract (`NNNNNN.fbat`). */
export const SEGMENT_FILE_PATTERN: RegExp = /^\d{6,10}\.fbat$/;

/** What a `<store>` argument names a PostgreSQL store with. */
export const POSTGRES_URL_PATTERN: RegExp = /^postgres(ql)?:\/\//i;

/** Connections the CLI opens to a PostgreSQL server: it runs one statement at a time. */
export const CLI_POOL_SIZE = 2;

/** `application_name` of the CLI's connections, as `pg_stat_activity` shows them. */
export const CLI_APPLICATION_NAME = "batpak-cli";

/** The lines every `--help` with a `<store>` argument carries. */
export const STORE_ARGUMENT_HELP =
  `<store> is a store directory (relative to where you typed the command, also
under deno task), or a PostgreSQL store:
postgres://user:password@host:port/database?schema=NAME (default schema
${SCHEMA_DEFAULT}; postgresql:// works too). Nothing is created: the directory
must hold segment files, the schema a store.`;

/** A `<store>` argument, understood. */
export type StoreTarget =
  | {
    /** A store directory. */
    readonly kind: "dir";
    /** The directory, resolved (see {@linkcode resolveUserPath}). */
    readonly dir: string;
    /** How messages name it: the directory. */
    readonly label: string;
  }
  | {
    /** A schema on a PostgreSQL server. */
    readonly kind: "postgres";
    /** The connection URL, without `schema=` (a server parameter to postgres.js). */
    readonly url: string;
    /** The schema holding the store. */
    readonly schema: string;
    /** How messages name it: the URL without password or query, then `?schema=`. */
    readonly label: string;
  };

/** An opened store: the embedded one read-only, or a PostgreSQL one. */
export type OpenedStore =
  | {
    readonly kind: "dir";
    readonly target: StoreTarget & { kind: "dir" };
    readonly store: StoreReader;
  }
  | {
    readonly kind: "postgres";
    readonly target: StoreTarget & { kind: "postgres" };
    readonly store: PostgresStore;
  };

/** One file of a store directory. */
export interface StoreFile {
  /** File name within the directory. */
  name: string;
  /** Size in bytes. */
  bytes: number;
}

function initCwd(): string | undefined {
  try {
    return Deno.env.get("INIT_CWD") || undefined;
  } catch {
    return undefined; // no env permission
  }
}

/**
 * `path` as the user meant it: absolute paths as they are; relative ones
 * against `INIT_CWD` when it is set (see the module doc), else left for
 * the process's working directory. An empty `base` is no base.
 */
export function resolveUserPath(path: string, base: string | undefined = initCwd()): string {
  if (isAbsolute(path) || !base) return path;
  return resolve(base, path);
}

/** The URL without its password and query, to name the server in output and messages. */
function redact(u: URL): string {
  return `${u.protocol}//${u.username ? u.username + "@" : ""}${u.host}${u.pathname}`;
}

/**
 * Understand a `<store>` argument: a `postgres://` or `postgresql://` URL
 * (a malformed one, or a bad `?schema=`, is a {@linkcode UsageError}), else a
 * directory.
 */
export function parseTarget(arg: string, base: string | undefined = initCwd()): StoreTarget {
  if (!POSTGRES_URL_PATTERN.test(arg)) {
    const dir = resolveUserPath(arg, base);
    return { kind: "dir", dir, label: dir };
  }
  let u: URL;
  try {
    u = new URL(arg);
  } catch {
    throw new UsageError("<store> looks like a postgres:// URL but is not a valid URL");
  }
  const schemas = u.searchParams.getAll("schema");
  if (schemas.length > 1) throw new UsageError("<store> URL has more than one 'schema='");
  const schema = schemas[0] ?? SCHEMA_DEFAULT;
  if (!SCHEMA_NAME.test(schema)) {
    throw new UsageError(
      `<store> URL 'schema=' needs a PostgreSQL schema name matching ${SCHEMA_NAME}, found '${schema}'`,
    );
  }
  u.searchParams.delete("schema");
  return { kind: "postgres", url: u.href, schema, label: `${redact(u)}?schema=${schema}` };
}

/** The segment files of `dir`, in order, with sizes. */
export function listSegments(dir: string): StoreFile[] {
  const files: StoreFile[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && SEGMENT_FILE_PATTERN.test(entry.name)) {
      files.push({ name: entry.name, bytes: Deno.statSync(join(dir, entry.name)).size });
    }
  }
  return files.sort((a, b) => Number.parseInt(a.name) - Number.parseInt(b.name));
}

/**
 * Check that `dir` is an existing store directory (a directory holding at
 * least one segment file), without creating anything.
 */
export function requireStoreDir(dir: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`no such directory: ${dir}`);
    throw e;
  }
  if (!info.isDirectory) throw new CliError(`not a directory: ${dir}`);
  if (listSegments(dir).length === 0) {
    throw new CliError(`not a batpak store (no NNNNNN.fbat segment files): ${dir}`);
  }
}

/**
 * Open the existing store in `dir` read-only (see {@linkcode requireStoreDir}):
 * no lock, so it works beside the application that has the store open, and
 * nothing on disk changes (no torn-tail cut, no index image rewrite).
 */
export function openExisting(dir: string): StoreReader {
  requireStoreDir(dir);
  return Store.open({ dataDir: dir, readOnly: true });
}

/**
 * Connect to the PostgreSQL store `target` names with `create: false`: a
 * schema holding no store is a `NotFoundError`, and nothing is created.
 */
export async function openPostgres(
  target: StoreTarget & { kind: "postgres" },
): Promise<PostgresStore> {
  // Loaded on demand: the PostgreSQL client costs every other command ~50 ms of start-up.
  const { PostgresStore } = await import("../postgres/mod.ts");
  return await PostgresStore.connect({
    url: target.url,
    schema: target.schema,
    create: false,
    poolSize: CLI_POOL_SIZE,
    applicationName: CLI_APPLICATION_NAME,
  });
}

/**
 * Open what `target` names, creating nothing: the directory read-only
 * ({@linkcode openExisting}), or the schema ({@linkcode openPostgres}).
 */
export async function openTarget(target: StoreTarget): Promise<OpenedStore> {
  if (target.kind === "dir") return { kind: "dir", target, store: openExisting(target.dir) };
  return { kind: "postgres", target, store: await openPostgres(target) };
}

/** Close an opened store (the PostgreSQL pool too, so the process can exit). */
export async function closeOpened(opened: OpenedStore): Promise<void> {
  if (opened.kind === "dir") opened.store.close();
  else await opened.store.close();
}
