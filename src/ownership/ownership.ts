/**
 * Leases and fencing tokens for a scope. Every change is a system event in
 * the log (so it survives reopen); time comes from the store's clock.
 *
 * @module
 */

import { Coordinate, COORDINATE_BYTES_MAX, validateCoordinatePart } from "../core/coordinate.ts";
import { StoreClosedError } from "../core/errors.ts";
import {
  FENCE_ENTITY_PREFIX,
  type FencePayload,
  SystemKind,
  type SystemState,
} from "../core/system.ts";
import type { Fence } from "../core/types.ts";
import {
  checkFence,
  checkLease,
  checkOwner,
  claimEpoch,
  LEASE_MS_MAX,
  OWNER_LENGTH_MAX,
  readFence,
  takeoverEpoch,
  tokenHash,
} from "../core/fence.ts";
import type { EventKind } from "../core/kind.ts";
import { toHex } from "../core/utf8.ts";

/** What ownership needs of a store: its system state, clock, randomness and system appends. */
export interface SystemLog {
  /** Fences (and other state) folded from the system events. */
  readonly system: SystemState;
  /** True once the store is closed. */
  readonly closed: boolean;
  /** The store's clock, checked. */
  now(): number;
  /** Fills `bytes` with random bytes (fencing tokens). */
  random(bytes: Uint8Array): void;
  /** Append a system event (a fence change). */
  appendSystem(coord: Coordinate, kind: EventKind, payload: unknown): void;
}

export { FENCE_ENTITY_PREFIX };
export { LEASE_MS_MAX, OWNER_LENGTH_MAX };
/** Random bytes in a fencing token (128 bits: unguessable by a stale or rival owner). */
const TOKEN_BYTES = 16;
const textEncoder = new TextEncoder();

/**
 * The entity that carries a scope's fence events: `$fence:<scope>`, or, when
 * that would exceed {@linkcode COORDINATE_BYTES_MAX} (the scope itself may use
 * all of it), `$fence:#<hash of the scope>`. The guarded scope is the event's
 * scope either way.
 */
export function fenceEntity(scope: string): string {
  const plain = FENCE_ENTITY_PREFIX + scope;
  if (textEncoder.encode(plain).length <= COORDINATE_BYTES_MAX) return plain;
  return `${FENCE_ENTITY_PREFIX}#${tokenHash(scope)}`;
}

/**
 * Ownership of one scope: at most one owner holds an unexpired lease; each
 * takeover moves the epoch up by one; a fence `{ owner, epoch, token }` proves
 * ownership to fenced appends.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, OwnershipError, Store } from "@seed/batpak";
 * let now = 0;
 * const store = Store.open({ dataDir: Deno.makeTempDirSync(), clock: () => now });
 * const own = store.ownership("orders");
 * const fence = own.claim("worker-a", 1_000);
 * store.append(new Coordinate("order:1", "orders"), EventKind.custom(1, 1), {}, { fence });
 * now = 2_000; // the lease expired
 * const next = own.takeover("worker-b", own.current()!, 1_000);
 * console.log(next.epoch); // 2
 * try {
 *   store.append(new Coordinate("order:1", "orders"), EventKind.custom(1, 1), {}, { fence });
 * } catch (e) {
 *   console.log((e as OwnershipError).reason); // stale_owner
 * }
 * store.close();
 * ```
 */
export interface Ownership {
  /** The scope this handle guards. */
  readonly scope: string;
  /** Take a free scope (never claimed, released, or expired). `lease_held` otherwise. */
  claim(owner: string, leaseMs: number): Fence;
  /** Extend the current lease; the fence must be current and unexpired. */
  renew(fence: Fence, leaseMs: number): Fence;
  /** Replace an expired owner: `observed` must be the current owner and epoch; returns epoch + 1. */
  takeover(owner: string, observed: Fence, leaseMs: number): Fence;
  /** Give the lease up; the next claim may take the scope at once. */
  release(fence: Fence): void;
  /**
   * The current owner and epoch, or `undefined` when never claimed. The token
   * is a secret only its owner holds (the log stores a hash), so it is `""`.
   */
  current(): Fence | undefined;
}

/** Same shape rule as a fenced append's `options.fence` (epochs start at 1), each field read once. */
function checkFenceShape(f: unknown, what: string): Fence {
  return readFence(f, what);
}

/** The store-backed implementation. */
export class OwnershipImpl implements Ownership {
  readonly scope: string;
  readonly #s: SystemLog;
  readonly #coord: Coordinate;

  constructor(log: SystemLog, scope: string) {
    validateCoordinatePart("scope", scope);
    this.#s = log;
    this.#coord = new Coordinate(fenceEntity(scope), scope);
    this.scope = scope;
  }

  #assertOpen(): void {
    if (this.#s.closed) throw new StoreClosedError();
  }

  /** The store clock, checked in one place for every caller (a NaN lease would never expire). */
  #now(): number {
    return this.#s.now();
  }

  #newToken(): string {
    const b = new Uint8Array(TOKEN_BYTES);
    this.#s.random(b);
    return toHex(b);
  }

  #record(
    op: FencePayload["op"],
    owner: string,
    epoch: number,
    token: string,
    expiresAtMs: number,
  ): void {
    const payload: FencePayload = {
      op,
      owner,
      epoch,
      tokenHash: tokenHash(token),
      expiresAtMs,
      released: op === "release",
    };
    this.#s.appendSystem(this.#coord, SystemKind.Fence, payload);
  }

  claim(owner: string, leaseMs: number): Fence {
    this.#assertOpen();
    checkOwner(owner);
    checkLease(leaseMs);
    const now = this.#now();
    const epoch = claimEpoch(this.scope, this.#s.system.fences.get(this.scope), now);
    const token = this.#newToken();
    this.#record("claim", owner, epoch, token, now + leaseMs);
    return { owner, epoch, token };
  }

  renew(fence: Fence, leaseMs: number): Fence {
    this.#assertOpen();
    fence = checkFenceShape(fence, "renew: fence");
    checkLease(leaseMs);
    const now = this.#now();
    checkFence(this.#s.system, this.scope, fence, now);
    this.#record("renew", fence.owner, fence.epoch, fence.token, now + leaseMs);
    return { owner: fence.owner, epoch: fence.epoch, token: fence.token };
  }

  takeover(owner: string, observed: Fence, leaseMs: number): Fence {
    this.#assertOpen();
    checkOwner(owner);
    observed = checkFenceShape(observed, "takeover: observed");
    checkLease(leaseMs);
    const now = this.#now();
    const epoch = takeoverEpoch(this.scope, this.#s.system.fences.get(this.scope), observed, now);
    const token = this.#newToken();
    this.#record("takeover", owner, epoch, token, now + leaseMs);
    return { owner, epoch, token };
  }

  release(fence: Fence): void {
    this.#assertOpen();
    fence = checkFenceShape(fence, "release: fence");
    const now = this.#now();
    checkFence(this.#s.system, this.scope, fence, now);
    this.#record("release", fence.owner, fence.epoch, fence.token, now);
  }

  current(): Fence | undefined {
    this.#assertOpen();
    const rec = this.#s.system.fences.get(this.scope);
    return rec ? { owner: rec.owner, epoch: rec.epoch, token: "" } : undefined;
  }
}
