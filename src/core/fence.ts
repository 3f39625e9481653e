/**
 * The fence rules every backend shares: the fence check of fenced appends
 * and ownership calls, the shape check of a fence a caller presents (read
 * once: a getter cannot pass the check with one value and be used with
 * another), the owner and lease argument rules, and when a claim or a
 * takeover is refused. The embedded store and PostgreSQL both decide
 * through these, so they refuse the same calls for the same reason.
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

/** Longest lease, ms (one day). */
export const LEASE_MS_MAX = 86_400_000;
/** Longest owner name, UTF-16 code units. */
export const OWNER_LENGTH_MAX = 256;

/**
 * An owner name: 1 to {@linkcode OWNER_LENGTH_MAX} code units of
 * well-formed text without NUL (PostgreSQL text cannot hold NUL, and a lone
 * surrogate does not survive UTF-8), else `InvalidArgumentError`.
 */
export function checkOwner(owner: unknown): string {
  if (typeof owner !== "string" || owner.length === 0 || owner.length > OWNER_LENGTH_MAX) {
    const found = typeof owner === "string" ? `${owner.length} characters` : typeof owner;
    throw new InvalidArgumentError(
      `owner must be a non-empty string of at most ${OWNER_LENGTH_MAX} characters, found ${found}`,
    );
  }
  if (owner.includes("\u0000") || !owner.isWellFormed()) {
    throw new InvalidArgumentError("owner must be well-formed text without NUL");
  }
  return owner;
}

/** A lease: an integer number of ms in 1..{@linkcode LEASE_MS_MAX}, else `InvalidArgumentError`. */
export function checkLease(leaseMs: unknown): number {
  if (
    typeof leaseMs !== "number" || !Number.isInteger(leaseMs) || leaseMs < 1 ||
    leaseMs > LEASE_MS_MAX
  ) {
    throw new InvalidArgumentError(
      `leaseMs must be an integer in 1..${LEASE_MS_MAX}, found ${String(leaseMs)}`,
    );
  }
  return leaseMs;
}

/**
 * The epoch a claim of `scope` gets at `nowMs`, or `OwnershipError`
 * (`lease_held`) while `rec`'s lease runs.
 */
export function claimEpoch(scope: string, rec: FenceRecord | undefined, nowMs: number): number {
  if (rec && !leaseOver(rec, nowMs)) {
    throw new OwnershipError(
      "lease_held",
      scope,
      rec.epoch,
      rec.epoch + 1,
      `"${rec.owner}" holds epoch ${rec.epoch} until ${rec.expiresAtMs} (now ${nowMs})`,
    );
  }
  return (rec?.epoch ?? 0) + 1;
}

/**
 * The epoch a takeover of `scope` gets at `nowMs`, or `OwnershipError`:
 * nothing to take over or an epoch never issued (`invalid_token`), an epoch
 * already taken over (`stale_owner`), another owner than observed
 * (`split_brain`), a lease still running (`lease_held`).
 */
export function takeoverEpoch(
  scope: string,
  rec: FenceRecord | undefined,
  observed: FenceCheck,
  nowMs: number,
): number {
  if (!rec) {
    throw new OwnershipError(
      "invalid_token",
      scope,
      0,
      observed.epoch,
      "nothing to take over: claim it",
    );
  }
  if (observed.epoch < rec.epoch) {
    throw new OwnershipError(
      "stale_owner",
      scope,
      rec.epoch,
      observed.epoch,
      `observed epoch ${observed.epoch}, but epoch ${rec.epoch} already took over`,
    );
  }
  if (observed.epoch > rec.epoch) {
    throw new OwnershipError(
      "invalid_token",
      scope,
      rec.epoch,
      observed.epoch,
      "observed epoch was never issued",
    );
  }
  if (observed.owner !== rec.owner) {
    throw new OwnershipError(
      "split_brain",
      scope,
      rec.epoch,
      observed.epoch,
      `observed "${observed.owner}" at epoch ${observed.epoch}, but it belongs to "${rec.owner}"`,
    );
  }
  if (!leaseOver(rec, nowMs)) {
    throw new OwnershipError(
      "lease_held",
      scope,
      rec.epoch,
      observed.epoch + 1,
      `"${rec.owner}" holds epoch ${rec.epoch} until ${rec.expiresAtMs} (now ${nowMs})`,
    );
  }
  return rec.epoch + 1;
}

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
