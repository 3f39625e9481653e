/**
 * Leases and fences of a scope, in the `leases` table: one row per scope,
 * changed only under its row lock (`FOR UPDATE`), with the same rules and
 * rejection reasons as the embedded store (the fence check itself is the
 * engine's). A fenced append takes the same row `FOR SHARE` in its own
 * transaction, so a takeover and a stale owner's append are serialized: the
 * append commits before the takeover, or sees the new epoch and is refused.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import { StoreClosedError } from "../core/errors.ts";
import type { AsyncOwnership, Fence } from "../core/types.ts";
import {
  checkFence,
  checkLease,
  checkOwner,
  claimEpoch,
  type FenceRecord,
  readFence,
  SystemState,
  takeoverEpoch,
  toHex,
  tokenHash,
  validateCoordinatePart,
} from "./_engine.ts";
import { storeErrorOf } from "./_errors.ts";
import { inTransaction, TransactionError, type Tx } from "./_tx.ts";

/** Random bytes of a fencing token (128 bits). */
const TOKEN_BYTES = 16;

/** What the ownership handle needs from the store. */
export interface OwnershipContext {
  readonly sql: postgres.Sql;
  readonly schema: string;
  readonly where: string;
  isClosed(): boolean;
  /** SQL for "now" (the injected clock as a number, or the server's clock). */
  leaseNow(): postgres.PendingQuery<postgres.Row[]> | number;
}

function newToken(): string {
  const b = new Uint8Array(TOKEN_BYTES);
  crypto.getRandomValues(b);
  return toHex(b);
}

interface LeaseRow {
  owner: string;
  epoch: number;
  token_hash: string;
  expires_at_ms: number;
  released: boolean;
}

function recordOf(r: LeaseRow | undefined): FenceRecord | undefined {
  return r === undefined ? undefined : {
    owner: r.owner,
    epoch: r.epoch,
    tokenHash: r.token_hash,
    expiresAtMs: r.expires_at_ms,
    released: r.released,
  };
}

function stateWith(scope: string, rec: FenceRecord | undefined): SystemState {
  const s = new SystemState();
  if (rec) s.fences.set(scope, rec);
  return s;
}

/** The PostgreSQL ownership handle of one scope. */
export class PostgresOwnership implements AsyncOwnership {
  readonly scope: string;
  readonly #c: OwnershipContext;

  constructor(ctx: OwnershipContext, scope: string) {
    this.scope = validateCoordinatePart("scope", scope);
    this.#c = ctx;
  }

  /** Run `fn` in a transaction holding the scope's lease row (or its absence) locked. */
  async #locked<T>(
    op: string,
    fn: (
      tx: Tx,
      rec: FenceRecord | undefined,
      nowMs: number,
    ) => Promise<T>,
  ): Promise<T> {
    if (this.#c.isClosed()) throw new StoreClosedError();
    try {
      return await inTransaction(this.#c.sql, "BEGIN", async (tx): Promise<T> => {
        // Serialize a claim of a scope that has no row yet, too.
        await tx`SELECT pg_advisory_xact_lock(
          hashtextextended(${this.#c.schema + ":lease:" + this.scope}, 0))`;
        const [[now], rows] = await Promise.all([
          tx`SELECT ${this.#c.leaseNow()}::float8 AS now_ms`,
          tx`SELECT owner, epoch::float8 AS epoch, token_hash, expires_at_ms, released
            FROM leases WHERE scope = ${this.scope} FOR UPDATE`,
        ]);
        return await fn(tx, recordOf(rows[0] as unknown as LeaseRow), now.now_ms as number);
      });
    } catch (e) {
      const cause = e instanceof TransactionError ? e.cause : e;
      throw storeErrorOf(cause, `ownership ${op} of scope "${this.scope}"`, this.#c.where);
    }
  }

  async #write(
    tx: Tx,
    owner: string,
    epoch: number,
    token: string,
    expiresAtMs: number,
    released: boolean,
  ): Promise<void> {
    await tx`
      INSERT INTO leases (scope, owner, epoch, token_hash, expires_at_ms, released)
      VALUES (${this.scope}, ${owner}, ${epoch}, ${tokenHash(token)}, ${expiresAtMs}, ${released})
      ON CONFLICT (scope) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch,
        token_hash = EXCLUDED.token_hash, expires_at_ms = EXCLUDED.expires_at_ms,
        released = EXCLUDED.released`;
  }

  /** Take a free scope (never claimed, released, or expired); `lease_held` otherwise. */
  async claim(owner: string, leaseMs: number): Promise<Fence> {
    this.#assertOpen();
    checkOwner(owner);
    checkLease(leaseMs);
    return await this.#locked("claim", async (tx, rec, now) => {
      const epoch = claimEpoch(this.scope, rec, now);
      const token = newToken();
      await this.#write(tx, owner, epoch, token, now + leaseMs, false);
      return { owner, epoch, token };
    });
  }

  /** Extend the current lease; the fence must be current and unexpired. */
  async renew(fence: Fence, leaseMs: number): Promise<Fence> {
    this.#assertOpen();
    const f = readFence(fence, "renew");
    checkLease(leaseMs);
    return await this.#locked("renew", async (tx, rec, now) => {
      checkFence(stateWith(this.scope, rec), this.scope, f, now);
      await this.#write(tx, f.owner, f.epoch, f.token, now + leaseMs, false);
      return { owner: f.owner, epoch: f.epoch, token: f.token };
    });
  }

  /** Replace an expired owner: `observed` must be the current owner and epoch; epoch + 1. */
  async takeover(owner: string, observed: Fence, leaseMs: number): Promise<Fence> {
    this.#assertOpen();
    checkOwner(owner);
    const seen = readFence(observed, "takeover");
    checkLease(leaseMs);
    return await this.#locked("takeover", async (tx, rec, now) => {
      const epoch = takeoverEpoch(this.scope, rec, seen, now);
      const token = newToken();
      await this.#write(tx, owner, epoch, token, now + leaseMs, false);
      return { owner, epoch, token };
    });
  }

  /** Give the lease up; the next claim may take the scope at once. */
  async release(fence: Fence): Promise<void> {
    this.#assertOpen();
    const f = readFence(fence, "release");
    await this.#locked("release", async (tx, rec, now) => {
      checkFence(stateWith(this.scope, rec), this.scope, f, now);
      await this.#write(tx, f.owner, f.epoch, f.token, now, true);
    });
  }

  /** The current owner and epoch (token `""`: only its owner knows it), or `undefined`. */
  async current(): Promise<Fence | undefined> {
    this.#assertOpen();
    try {
      const [row] = await this.#c.sql`
        SELECT owner, epoch::float8 AS epoch FROM leases WHERE scope = ${this.scope}`;
      return row
        ? { owner: row.owner as string, epoch: row.epoch as number, token: "" }
        : undefined;
    } catch (e) {
      throw storeErrorOf(e, `ownership current of scope "${this.scope}"`, this.#c.where);
    }
  }

  #assertOpen(): void {
    if (this.#c.isClosed()) throw new StoreClosedError();
  }
}
