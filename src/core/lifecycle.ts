/**
 * The lifecycle state of a store's streams: deleted entities, truncations,
 * per-scope retention policies and redacted events. It is derived from
 * system events (so it is durable and survives reopen like any event) and
 * saved in the index sidecars; the read side hides what it says is gone
 * (`src/read/visibility.ts`) and `compact()` erases those payloads.
 *
 * @module
 */

/** A per-scope retention policy: what is older or beyond the count is no longer returned. */
export interface RetentionPolicy {
  /** Events older than this many milliseconds (by the store clock) are no longer returned. */
  readonly maxAgeMs?: number;
  /**
   * Of each entity's events in the scope, only those among the entity's last
   * `maxCount` (by sequence: its events in other scopes count too) are returned.
   */
  readonly maxCount?: number;
}

/** Payload of a stream deletion event. */
export interface DeletedPayload {
  entity: string;
}

/** Payload of a truncation event: events of `entity` below sequence `before` are gone. */
export interface TruncatedPayload {
  entity: string;
  before: number;
}

/** Payload of a retention event (`maxAgeMs`/`maxCount` absent: that limit is off). */
export interface RetentionPayload {
  scope: string;
  maxAgeMs?: number;
  maxCount?: number;
}

/** Payload of a redaction event. */
export interface RedactedPayload {
  globalSequence: number;
  eventId: string;
  reason: string;
}

const positive = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v > 0;

/** What the lifecycle events of a store say is gone. */
export class LifecycleState {
  /** Bumped on every change: readers cache what they derive from it by this. */
  version = 0;
  /** Deleted entities (final). */
  readonly deleted: Set<string> = new Set();
  /** Entity → its first sequence still returned (truncations only move forwards). */
  readonly truncated: Map<string, number> = new Map();
  /** Scope → its retention policy. */
  readonly retention: Map<string, RetentionPolicy> = new Map();
  /** Global sequence of a redacted event → the reason given. */
  readonly redacted: Map<number, string> = new Map();

  /** True when nothing is deleted, truncated, retained or redacted (the fast path of reads). */
  get empty(): boolean {
    return this.deleted.size === 0 && this.truncated.size === 0 && this.retention.size === 0 &&
      this.redacted.size === 0;
  }

  /** True when reads must filter events (anything but redactions, which keep the event). */
  get hides(): boolean {
    return this.deleted.size > 0 || this.truncated.size > 0 || this.retention.size > 0;
  }

  /** Fold a deletion in. */
  deleteStream(p: DeletedPayload): void {
    if (typeof p.entity !== "string") return;
    this.deleted.add(p.entity);
    this.version++;
  }

  /** Fold a truncation in (a lower `before` than the current one changes nothing). */
  truncate(p: TruncatedPayload): void {
    if (typeof p.entity !== "string" || !positive(p.before)) return;
    if ((this.truncated.get(p.entity) ?? 1) >= p.before) return;
    this.truncated.set(p.entity, p.before);
    this.version++;
  }

  /** Fold a retention policy in (neither limit: the scope's policy is removed). */
  retain(p: RetentionPayload): void {
    if (typeof p.scope !== "string") return;
    const policy: { maxAgeMs?: number; maxCount?: number } = {};
    if (positive(p.maxAgeMs)) policy.maxAgeMs = p.maxAgeMs;
    if (positive(p.maxCount)) policy.maxCount = p.maxCount;
    if (policy.maxAgeMs === undefined && policy.maxCount === undefined) {
      this.retention.delete(p.scope);
    } else this.retention.set(p.scope, Object.freeze(policy));
    this.version++;
  }

  /** Fold a redaction in. */
  redact(p: RedactedPayload): void {
    if (!positive(p.globalSequence)) return;
    this.redacted.set(p.globalSequence, typeof p.reason === "string" ? p.reason : "");
    this.version++;
  }

  /** Plain form for the sidecar. */
  toPlain(): unknown {
    return {
      deleted: [...this.deleted],
      truncated: [...this.truncated],
      retention: [...this.retention].map(([scope, p]) => ({ scope, ...p })),
      redacted: [...this.redacted],
    };
  }

  /** Restore from {@linkcode LifecycleState.toPlain} output; ignores malformed input. */
  static fromPlain(plain: unknown): LifecycleState {
    const s = new LifecycleState();
    const p = plain as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) return s;
    if (Array.isArray(p.deleted)) {
      for (const entity of p.deleted) s.deleteStream({ entity });
    }
    if (Array.isArray(p.truncated)) {
      for (const pair of p.truncated) {
        if (Array.isArray(pair)) s.truncate({ entity: pair[0], before: pair[1] });
      }
    }
    if (Array.isArray(p.retention)) {
      for (const r of p.retention) if (typeof r === "object" && r !== null) s.retain(r);
    }
    if (Array.isArray(p.redacted)) {
      for (const pair of p.redacted) {
        if (Array.isArray(pair)) {
          s.redact({ globalSequence: pair[0], eventId: "", reason: pair[1] });
        }
      }
    }
    return s;
  }
}
