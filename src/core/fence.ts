/**
 * The fence check shared by fenced appends and ownership calls, and the
 * shape check of a fence a caller presents (read once: a getter cannot pass
 * the check with one value and be used with another).
 *
 * @module
 */

import { OwnershipError } from "./errors.ts";
import type { FenceRecord, SystemState } from "./system.ts";
import { hashInto } from "./hash.ts";
import { toHex } from "./utf8.ts";
import { describeValue } from "./describe.ts";
import { InvalidArgumentError } from "./errors.ts";

/** A fence presented by a caller. */
export interface FenceCheck {
  owner: string;
  epoch: number;
  token: string;
}

const textEncoder = new TextEncoder();

/**
 * Copy and check a fence a caller presents: `{ owner: string, epoch:
 * integer ≥ 1, token: string }`, each field read once.
 */
export function readFence(f: unknown, where: string): FenceCheck {
  if (typeof f !== "object" || f === null) {
    throw new InvalidArgumentError(
      `${where}: fence must be { owner: string, epoch: integer ≥ 1, token: string }, found ${
        describeValue(f)
      }`,
    );
  }
  const { owner, epoch, token } = f as { owner?: unknown; epoch?: unknown; token?: unknown };
  if (
    typeof owner !== "string" || typeof token !== "string" || typeof epoch !== "number" ||
    !Number.isSafeInteger(epoch) || epoch < 1
  ) {
    throw new InvalidArgumentError(
      `${where}: fence must be { owner: string, epoch: integer ≥ 1, token: string }`,
    );
  }
  return { owner, epoch, token };
}

/** Hex BLAKE3 of a token: what the log stores instead of the token. */
export function tokenHash(token: string): string {
  const out = new Uint8Array(32);
  hashInto(textEncoder.encode(token), out, 0);
  return toHex(out);
}

/** True when the record's lease is over (released or expired) at `nowMs`. */
export function leaseOver(rec: FenceRecord, nowMs: number): boolean {
  return rec.released || nowMs >= rec.expiresAtMs;
}

/**
 * Throw {@linkcode OwnershipError} unless `fence` is the scope's current,
 * unexpired fence. Order of checks: stale epoch, unknown epoch, rival owner
 * (split brain), token, lease.
 */
export function checkFence(
  system: SystemState,
  scope: string,
  fence: FenceCheck,
  nowMs: number,
): FenceRecord {
  const rec = system.fences.get(scope);
  if (!rec) {
    throw new OwnershipError(
      "invalid_token",
      scope,
      0,
      fence.epoch,
      "the scope has never been claimed",
    );
  }
  if (fence.epoch < rec.epoch) {
    throw new OwnershipError(
      "stale_owner",
      scope,
      rec.epoch,
      fence.epoch,
      `epoch ${fence.epoch} was superseded by epoch ${rec.epoch} (owner "${rec.owner}")`,
    );
  }
  if (fence.epoch > rec.epoch) {
    throw new OwnershipError(
      "invalid_token",
      scope,
      rec.epoch,
      fence.epoch,
      `epoch ${fence.epoch} was never issued`,
    );
  }
  if (fence.owner !== rec.owner) {
    throw new OwnershipError(
      "split_brain",
      scope,
      rec.epoch,
      fence.epoch,
      `"${fence.owner}" claims epoch ${fence.epoch}, which belongs to "${rec.owner}"`,
    );
  }
  if (tokenHash(fence.token) !== rec.tokenHash) {
    throw new OwnershipError(
      "invalid_token",
      scope,
      rec.epoch,
      fence.epoch,
      "the token does not match the fence",
    );
  }
  if (leaseOver(rec, nowMs)) {
    throw new OwnershipError(
      "stale_owner",
      scope,
      rec.epoch,
      fence.epoch,
      rec.released
        ? "the lease was released"
        : `the lease expired at ${rec.expiresAtMs} (now ${nowMs})`,
    );
  }
  return rec;
}
