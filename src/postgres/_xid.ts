/**
 * Transaction ids must only grow. Global positions are `(transaction id −
 * xid_base) × 65536 + item + 1`, and consumers read only rows whose
 * transaction id is below the oldest running transaction
 * (`pg_snapshot_xmin`). Both hold because a server's transaction ids never
 * go back — until the schema is copied into another cluster logically
 * (`pg_dump` then `pg_restore` or `psql`): the rows keep the old cluster's
 * `tx_id` and `meta.xid_base`, while the new cluster counts its own ids from
 * the beginning. New appends would then take positions below the old events
 * (or below 0), and the old events would stay above every snapshot's xmin:
 * invisible to `read` and `subscribe` for as long as the new cluster needs
 * to catch up, then interleaved with the new ones.
 *
 * {@linkcode checkTransactionIds} refuses that at connect, before anything
 * is written; the append transaction then checks each of its ids against
 * the floor read here (`xidFloor`), so a client that reconnects to such a
 * server behind the same URL refuses to append too. A physical copy
 * (`pg_basebackup`, streaming replication, `pg_upgrade`) keeps transaction
 * ids and is safe.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import { InvalidArgumentError } from "../core/errors.ts";

/** Transaction ids per epoch: `xid8` is `epoch × 2^32 + xid`. */
const XIDS_PER_EPOCH = 1n << 32n;
/**
 * Transaction ids in one `pg_xact` segment file: `pg_resetwal -x` needs a
 * value the server's commit log can start at, and a segment boundary is one.
 */
const XACT_SEGMENT_XIDS = 1n << 20n;

/**
 * The `pg_resetwal` arguments that put a fresh cluster's next transaction id
 * above `last`: the next `pg_xact` segment boundary, with its epoch.
 */
export function resetwalArgs(last: bigint): string {
  const next = (last / XACT_SEGMENT_XIDS + 1n) * XACT_SEGMENT_XIDS;
  const epoch = next / XIDS_PER_EPOCH;
  const xid = next % XIDS_PER_EPOCH;
  return `${epoch > 0n ? `-e ${epoch} ` : ""}-x ${xid}`;
}

/** The error for a server whose next transaction id `next` is not above the store's `last`. */
export function transactionIdsBehind(
  schema: string,
  where: string,
  next: bigint,
  last: bigint,
): InvalidArgumentError {
  return new InvalidArgumentError(
    `schema "${schema}" at ${where} holds events up to transaction id ${last}, but this ` +
      `server's next transaction id is ${next}: the schema was copied from another cluster ` +
      "by a logical dump and restore, and new events would sort before the old ones (consumers " +
      "would skip them). Nothing was written. Remedy: restore the dump into a cluster whose " +
      `transaction ids are past ${last} — on a new cluster, before its first start, run ` +
      `\`pg_resetwal ${resetwalArgs(last)} <data directory>\`, then start it and restore — or ` +
      "copy the cluster physically (pg_basebackup, pg_upgrade), which keeps transaction ids",
  );
}

/**
 * Check, changing nothing, that the server's next transaction id is above
 * every transaction id the store used (its newest event's, and `xidBase`).
 * Returns that highest id: the floor every later append's id must exceed.
 * Throws `InvalidArgumentError` with the remedy otherwise.
 */
export async function checkTransactionIds(
  sql: postgres.Sql,
  schema: string,
  xidBase: bigint,
  where: string,
): Promise<bigint> {
  // The newest event has the highest transaction id: positions grow with it (primary key order).
  const [row] = await sql.unsafe(`SELECT
      pg_snapshot_xmax(pg_current_snapshot())::text AS next,
      (SELECT tx_id::text FROM "${schema}".events ORDER BY global_position DESC LIMIT 1) AS last`);
  const next = BigInt(row.next as string);
  const newest = row.last === null ? xidBase : BigInt(row.last as string);
  const floor = newest > xidBase ? newest : xidBase;
  if (next <= floor) throw transactionIdsBehind(schema, where, next, floor);
  return floor;
}
