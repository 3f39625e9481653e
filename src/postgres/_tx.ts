/**
 * Transactions on a reserved connection, with explicit BEGIN / COMMIT /
 * ROLLBACK. Not the client's `sql.begin`: when the server drops a
 * connection inside a transaction, the client (postgres 3.4.9) hands the
 * dead connection back to its pool as if it were open, and the next query
 * given to it throws from a timer, where no caller can catch it. Here a lost
 * connection is never written to again nor released: the client's own close
 * handling returns it to the pool as closed, and it reconnects on next use.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import { isConnectionLoss } from "./_errors.ts";

/** A connection inside a transaction. */
export type Tx = postgres.ReservedSql;

/** Where a failed transaction stopped. */
export class TransactionError extends Error {
  /** True when COMMIT was sent and the connection was lost before its answer. */
  readonly commitUnknown: boolean;
  /** True when BEGIN itself failed: the server ran nothing of the transaction. */
  readonly beginFailed: boolean;
  /** Wrap `cause`. */
  constructor(cause: unknown, commitUnknown: boolean, beginFailed = false) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.commitUnknown = commitUnknown;
    this.beginFailed = beginFailed;
  }
}

/** Default bound on waiting for a pool connection, ms. */
export const RESERVE_TIMEOUT_MS_DEFAULT = 5_000;

/** A pool connection, or a failed-BEGIN error after `timeoutMs`. */
async function reserve(sql: postgres.Sql, timeoutMs: number): Promise<Tx> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const reserving = sql.reserve();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      const e = Object.assign(
        new Error(`no pool connection within ${timeoutMs} ms`),
        { code: "CONNECT_TIMEOUT" },
      );
      reject(new TransactionError(e, false, true));
    }, timeoutMs);
  });
  try {
    return await Promise.race([reserving, timeout]);
  } finally {
    clearTimeout(timer);
    // A reservation that arrives after all goes straight back.
    if (timedOut) reserving.then((c) => c.release(), () => {});
  }
}

/** How {@linkcode inTransaction} starts. */
export interface TransactionOptions {
  /**
   * Give up waiting for a pool connection after this long, ms (a failed
   * BEGIN: safe to retry). The client (postgres 3.4.9) can lose a waiting
   * reservation while the server restarts; without a bound it would wait
   * forever.
   */
  reserveTimeoutMs?: number;
  /**
   * Send BEGIN in the same round trip as `fn`'s first statement instead of
   * waiting for it. Only for callers whose writes are one statement that
   * checks it runs in the transaction of their first statement (a failed
   * BEGIN would leave them in autocommit).
   */
  pipelineBegin?: boolean;
}

/**
 * Run `fn` in a transaction started with `begin` (e.g. `"BEGIN"`) and commit
 * it. Whatever `fn` throws is rethrown as is after a rollback; a failed
 * COMMIT is rethrown as a {@linkcode TransactionError}. `fn` may send the
 * COMMIT itself with `commit(after?)`, pipelined behind its last statements
 * (if one of them fails, the server turns that COMMIT into a ROLLBACK);
 * `after` sends more statements right behind the COMMIT, outside the
 * transaction (their failures are ignored; the connection is released when
 * they are done).
 */
export async function inTransaction<T>(
  sql: postgres.Sql,
  begin: string,
  fn: (tx: Tx, commit: (after?: (tx: Tx) => Promise<unknown>) => Promise<void>) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const tx = await reserve(sql, options.reserveTimeoutMs ?? RESERVE_TIMEOUT_MS_DEFAULT);
  let lost = false;
  let following: Promise<unknown> = Promise.resolve();
  try {
    let beginFailed = false;
    const began = tx.unsafe(begin).execute().then(() => {}, (e) => {
      beginFailed = true;
      lost = isConnectionLoss(e);
      throw new TransactionError(e, false, true);
    });
    if (options.pipelineBegin) began.catch(() => {});
    else await began;
    let committing: Promise<void> | undefined;
    const commit = (after?: (tx: Tx) => Promise<unknown>): Promise<void> => {
      committing ??= tx.unsafe("COMMIT").execute().then(() => {}, (e) => {
        lost = isConnectionLoss(e);
        throw new TransactionError(e, lost);
      });
      if (after) following = after(tx).catch(() => {});
      return committing;
    };
    let result: T;
    try {
      result = await fn(tx, commit);
      await began;
    } catch (e) {
      if (e instanceof TransactionError) throw e;
      // Answers come in order: a failed BEGIN has failed by the time its followers do.
      if (beginFailed) await began;
      lost = isConnectionLoss(e);
      if (!lost) await tx.unsafe("ROLLBACK").catch((r) => lost = isConnectionLoss(r));
      throw e;
    }
    await commit();
    await following;
    return result;
  } catch (e) {
    lost ||= isConnectionLoss(e);
    throw e;
  } finally {
    if (!lost) tx.release();
  }
}
