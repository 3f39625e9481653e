/**
 * The fence check shared by fenced appends and ownership calls.
 *
 * @module
 */

import { OwnershipError } from "../core/errors.ts";
import type { FenceRecord, SystemState } from "../core/system.ts";
import { hashInto } from "../core/hash.ts";
import { toHex } from "../core/ids.ts";

/** A fence presented by a caller. */
export interface FenceCheck {
  owner: string;
  epoch: number;
  token: string;
}

const textEncoder = new TextEncoder();

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
