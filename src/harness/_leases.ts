/**
 * The harness's own ledger of the leases the store granted, built from the
 * calls that succeeded: it judges the store (never two unexpired leases, no
 * renewal after expiry, no write from a dead lease) and measures the
 * ownerless windows between leases.
 *
 * @module
 */

interface Lease {
  owner: string;
  epoch: number;
  endMs: number;
}

/** Leases granted over one run, as the callers saw them succeed. */
export class LeaseLedger {
  #current: Lease | undefined;
  /** Epoch → when its lease ended (or will end), as last granted, renewed or released. */
  readonly #endsMs = new Map<number, number>();
  /** Ownerless gaps between one lease ending and the next grant, ms. */
  readonly windowsMs: number[] = [];
  /** Grants made while another lease was unexpired (must stay 0). */
  overlaps = 0;
  /** Renewals accepted at or after expiry, or for a superseded lease (must stay 0). */
  lateRenewals = 0;
  /** Renewals that arrived after expiry and were rejected (the rule was exercised). */
  lateRenewalsRejected = 0;
  /** Writes accepted under a fence that was not the live lease (must stay 0). */
  deadLeaseWrites = 0;

  /** Highest epoch granted so far (0 before the first grant). */
  get epoch(): number {
    return this.#current?.epoch ?? 0;
  }

  /** True when a lease is unexpired at `atMs`. */
  held(atMs: number): boolean {
    return this.#current !== undefined && atMs < this.#current.endMs;
  }

  /** True when `epoch` is the live lease at `atMs`. */
  live(epoch: number, atMs: number): boolean {
    return this.#current !== undefined && this.#current.epoch === epoch &&
      atMs < this.#current.endMs;
  }

  /** A claim or takeover succeeded at `atMs`. */
  grant(owner: string, epoch: number, atMs: number, leaseMs: number): void {
    const cur = this.#current;
    if (cur) {
      if (atMs < cur.endMs) this.overlaps++;
      else this.windowsMs.push(atMs - cur.endMs);
    }
    this.#current = { owner, epoch, endMs: atMs + leaseMs };
    this.#endsMs.set(epoch, atMs + leaseMs);
  }

  /** A renewal of `epoch` succeeded at `atMs`. */
  renewed(epoch: number, atMs: number, leaseMs: number): void {
    if (!this.live(epoch, atMs)) {
      this.lateRenewals++;
      return;
    }
    this.#current!.endMs = atMs + leaseMs;
    this.#endsMs.set(epoch, atMs + leaseMs);
  }

  /** A renewal of `epoch` was rejected at `atMs` (late if its lease had ended, taken over or not). */
  renewalRejected(epoch: number, atMs: number): void {
    const endMs = this.#endsMs.get(epoch);
    if (endMs !== undefined && atMs >= endMs) this.lateRenewalsRejected++;
  }

  /** `epoch` was released at `atMs`. */
  released(epoch: number, atMs: number): void {
    if (this.#current?.epoch === epoch) {
      this.#current.endMs = Math.min(this.#current.endMs, atMs);
      this.#endsMs.set(epoch, this.#current.endMs);
    }
  }

  /** A fenced write under `epoch` was accepted at `atMs`. */
  wrote(epoch: number, atMs: number): void {
    if (!this.live(epoch, atMs)) this.deadLeaseWrites++;
  }
}
