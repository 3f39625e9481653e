/**
 * The store's tables, created and migrated by {@linkcode PostgresStore.connect}
 * in its own PostgreSQL schema. Each migration has a version; the table
 * `schema_migrations` records which ones ran. Connect runs the missing ones
 * in order, in one transaction, under an advisory lock, so many processes
 * connecting at once migrate exactly once; a schema migrated by a newer
 * client (a version this one does not know) is refused.
 *
 * ## Version 1: the event log
 *
 * - `meta(key, value)`: `xid_base`, the transaction id of this migration;
 *   global positions count transactions from it.
 * - `events`: one row per event. `global_position` (bigint, primary key) is
 *   `(tx_id - xid_base) * 65536 + item + 1`: the writing transaction's id,
 *   then the item's index in its batch. `tx_id` (xid8, default
 *   `pg_current_xact_id()`) is what consumers filter on: they read only
 *   rows below `pg_snapshot_xmin(pg_current_snapshot())`. The other columns
 *   are the event: `event_id` (uuid, unique), `entity`, `scope` (text,
 *   collation "C": byte order, exact comparison), `kind`, `sequence`
 *   (unique with the entity), `timestamp_ms`, `correlation_id`,
 *   `causation_id`, `idempotency_key` (text: `s:<key>` for strings, `b:<32
 *   hex>` for bigints; unique), `payload` (MessagePack bytea: the same
 *   bytes as the embedded log), `prev_hash` and `event_hash` (32-byte
 *   BLAKE3, the entity's hash chain).
 * - `streams(entity, last_sequence, last_hash)`: the head of each entity's
 *   stream, read and written under the entity's lock by every append.
 * - `cursors(name, position)`: saved cursor positions.
 * - `leases(scope, owner, epoch, token_hash, expires_at_ms, released)`: one
 *   ownership fence per scope (the token is stored as its BLAKE3 hash).
 *
 * Indexes: `(entity, sequence)` for streams, `(entity, global_position)` for
 * entity regions, `(scope, global_position)` for scope regions.
 *
 * Function `append_begin(entities, keys, scopes, lease_now_ms, exclusive)`:
 * the first step of every append transaction in one round trip — take the
 * entities' advisory locks (see `_append.ts`), take the transaction id, then,
 * each with a fresh snapshot, lock the fenced scopes' lease rows `FOR SHARE`,
 * and return as
 * JSON the transaction id, the stream heads, the rows already holding the
 * keys, and the leases with the time to judge them by.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import { InvalidArgumentError, NotFoundError } from "../core/errors.ts";
import { inTransaction } from "./_tx.ts";

/** One migration: its version, a one-line name, and its statements for a schema. */
export interface Migration {
  /** Applied in increasing order, from 1. */
  readonly version: number;
  /** What it does, recorded in `schema_migrations`. */
  readonly name: string;
  /** The statements, for the (already validated) schema name. */
  statements(schema: string): string[];
}

/** The `append_begin` function of a schema (see the module doc). */
function appendBeginFunction(s: string): string {
  return `CREATE FUNCTION "${s}".append_begin(
      p_entities text[], p_keys text[], p_scopes text[], p_lease_now_ms float8, p_exclusive boolean
    ) RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE result json;
    BEGIN
      IF p_exclusive THEN
        PERFORM pg_advisory_xact_lock(hashtext('${s}'), 2);
      ELSE
        PERFORM pg_advisory_xact_lock_shared(hashtext('${s}'), 2);
        PERFORM pg_advisory_xact_lock(k) FROM (
          SELECT DISTINCT hashtextextended('${s}:' || e, 0) AS k FROM unnest(p_entities) AS e ORDER BY k
        ) AS sorted;
      END IF;
      -- The transaction id: after the entity locks, so newer than every earlier writer's.
      PERFORM pg_current_xact_id();
      IF cardinality(p_scopes) > 0 THEN
        PERFORM 1 FROM "${s}".leases WHERE scope = ANY(p_scopes) FOR SHARE;
      END IF;
      SELECT json_build_object(
        'xid', pg_current_xact_id()::text,
        'now', coalesce(p_lease_now_ms, extract(epoch from clock_timestamp()) * 1000),
        'heads', (SELECT json_agg(json_build_array(entity, last_sequence, encode(last_hash, 'hex')))
          FROM "${s}".streams WHERE entity = ANY(p_entities)),
        'keys', (SELECT json_agg(json_build_array(idempotency_key, entity, kind, event_id,
            sequence, global_position, encode(event_hash, 'hex')))
          FROM "${s}".events WHERE idempotency_key = ANY(p_keys)),
        'leases', (SELECT json_agg(json_build_array(scope, owner, epoch, token_hash, expires_at_ms,
            released))
          FROM "${s}".leases WHERE scope = ANY(p_scopes))
      ) INTO result;
      RETURN result;
    END
    $fn$`;
}

/**
 * Every migration, in order. Append new ones; never edit one that shipped.
 *
 * @example
 * ```ts
 * import { MIGRATIONS, SCHEMA_VERSION } from "@seed/batpak/postgres";
 * console.log(MIGRATIONS.length === SCHEMA_VERSION, MIGRATIONS[0].name);
 * // true event log: events, streams, cursors, leases
 * ```
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "event log: events, streams, cursors, leases",
    statements: (s) => [
      `CREATE TABLE "${s}".meta (key text PRIMARY KEY, value text NOT NULL)`,
      `INSERT INTO "${s}".meta (key, value) VALUES ('xid_base', pg_current_xact_id()::text)`,
      `CREATE TABLE "${s}".events (
        global_position bigint PRIMARY KEY,
        tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id uuid NOT NULL,
        entity text COLLATE "C" NOT NULL,
        scope text COLLATE "C" NOT NULL,
        kind integer NOT NULL CHECK (kind BETWEEN 0 AND 65535),
        sequence bigint NOT NULL CHECK (sequence >= 1),
        timestamp_ms double precision NOT NULL,
        correlation_id uuid,
        causation_id uuid,
        idempotency_key text COLLATE "C",
        payload bytea NOT NULL,
        prev_hash bytea,
        event_hash bytea NOT NULL,
        CONSTRAINT events_event_id UNIQUE (event_id),
        CONSTRAINT events_entity_sequence UNIQUE (entity, sequence)
      )`,
      `CREATE UNIQUE INDEX events_idempotency_key ON "${s}".events (idempotency_key)
        WHERE idempotency_key IS NOT NULL`,
      `CREATE INDEX events_entity_position ON "${s}".events (entity, global_position)`,
      `CREATE INDEX events_scope_position ON "${s}".events (scope, global_position)`,
      `CREATE TABLE "${s}".streams (
        entity text COLLATE "C" PRIMARY KEY,
        last_sequence bigint NOT NULL CHECK (last_sequence >= 0),
        last_hash bytea
      )`,
      `CREATE TABLE "${s}".cursors (
        name text COLLATE "C" PRIMARY KEY,
        position bigint NOT NULL CHECK (position >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      appendBeginFunction(s),
      `CREATE TABLE "${s}".leases (
        scope text COLLATE "C" PRIMARY KEY,
        owner text NOT NULL,
        epoch bigint NOT NULL CHECK (epoch >= 1),
        token_hash text NOT NULL,
        expires_at_ms double precision NOT NULL,
        released boolean NOT NULL
      )`,
    ],
  },
];

/**
 * The schema version this client writes and reads.
 *
 * @example
 * ```ts
 * import { SCHEMA_VERSION } from "@seed/batpak/postgres";
 * console.log(SCHEMA_VERSION); // 1
 * ```
 */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** Advisory lock class (two-key form) of the store's schema-wide locks. */
export const MIGRATION_LOCK_OBJECT = 1;

/**
 * Bring `schema` to {@linkcode SCHEMA_VERSION}: create it when missing, run
 * the missing migrations in order, record each. Returns the `xid_base`.
 */
export async function migrate(sql: postgres.Sql, schema: string): Promise<bigint> {
  return await inTransaction(sql, "BEGIN", async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${schema}), ${MIGRATION_LOCK_OBJECT})`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const [row] = await tx.unsafe(
      `SELECT coalesce(max(version), 0)::int AS version FROM "${schema}".schema_migrations`,
    );
    const current = row.version as number;
    if (current > SCHEMA_VERSION) {
      throw new InvalidArgumentError(
        `schema "${schema}" is at version ${current}, newer than this client's ` +
          `${SCHEMA_VERSION}: upgrade the client (or use another schema)`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const statement of m.statements(schema)) await tx.unsafe(statement);
      await tx.unsafe(
        `INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, $2)`,
        [m.version, m.name],
      );
    }
    const [base] = await tx.unsafe(`SELECT value FROM "${schema}".meta WHERE key = 'xid_base'`);
    return BigInt(base.value as string);
  });
}

/**
 * The schema's store as it is, changing nothing: the `xid_base` of a
 * schema at {@linkcode SCHEMA_VERSION}. `NotFoundError` when the schema
 * holds no store, `InvalidArgumentError` when it is at another version
 * (what `PostgresStore.connect({ create: false })` runs instead of
 * {@linkcode migrate}).
 */
export async function requireSchema(
  sql: postgres.Sql,
  schema: string,
  where: string,
): Promise<bigint> {
  const [found] = await sql`SELECT to_regclass(${`"${schema}".schema_migrations`}) AS migrations,
    to_regclass(${`"${schema}".meta`}) AS meta`;
  if (found.migrations === null || found.meta === null) {
    throw new NotFoundError(
      `no batpak store at ${where} (schema "${schema}" has no schema_migrations table)`,
    );
  }
  const [row] = await sql.unsafe(
    `SELECT coalesce(max(version), 0)::int AS version FROM "${schema}".schema_migrations`,
  );
  const version = row.version as number;
  if (version !== SCHEMA_VERSION) {
    throw new InvalidArgumentError(
      `schema "${schema}" is at version ${version}, this client reads version ` +
        `${SCHEMA_VERSION}: ${
          version > SCHEMA_VERSION
            ? "upgrade the client"
            : "connect once with create (the default) to migrate it"
        }`,
    );
  }
  const [base] = await sql.unsafe(`SELECT value FROM "${schema}".meta WHERE key = 'xid_base'`);
  if (base === undefined) {
    throw new NotFoundError(`no batpak store at ${where} (schema "${schema}" has no xid_base)`);
  }
  return BigInt(base.value as string);
}
