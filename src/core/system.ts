/**
 * The store's own events (category 0x0): ownership fences, named cursor
 * checkpoints, gate denials and lifecycle changes (deletions, truncations,
 * retention, redactions). They live in the log like any event, so they
 * survive reopen and crash like any event; the state they imply is kept in
 * memory and saved in the index sidecars.
 *
 * @module
 */

import { EventKind } from "./kind.ts";
import {
  type DeletedPayload,
  LifecycleState,
  type RedactedPayload,
  type RetentionPayload,
  type TruncatedPayload,
} from "./lifecycle.ts";

/** Kinds of system events. */
export const SystemKind = {
  /** An ownership fence changed (claim, renew, takeover, release). */
  Fence: EventKind.custom(0x0, 0x001),
  /** A named cursor checkpoint was saved. */
  CursorCheckpoint: EventKind.custom(0x0, 0x002),
  /** A gate denied a write (audit evidence). */
  Denial: EventKind.custom(0x0, 0x003),
  /** A stream was deleted (final). */
  StreamDeleted: EventKind.custom(0x0, 0x004),
  /** A stream's events before a sequence were truncated. */
  StreamTruncated: EventKind.custom(0x0, 0x005),
  /** A scope's retention policy was set or removed. */
  RetentionSet: EventKind.custom(0x0, 0x006),
  /** An event's payload was redacted. */
  EventRedacted: EventKind.custom(0x0, 0x007),
} as const;

/** Scope of system events that belong to no user scope. */
export const SYSTEM_SCOPE = "$system";
/** Entity prefix of fence events; the scope of a fence event is the guarded scope. */
export const FENCE_ENTITY_PREFIX = "$fence:";
/** Entity prefix of cursor checkpoint events. */
export const CURSOR_ENTITY_PREFIX = "$cursor:";
/** Entity of denial events. */
export const DENIAL_ENTITY = "$denials";
/** Entity of lifecycle events (deletions, truncations, retention, redactions). */
export const LIFECYCLE_ENTITY = "$lifecycle";

/** The persisted state of one scope's fence. */
export interface FenceRecord {
  owner: string;
  epoch: number;
  /** Hex BLAKE3 of the token: the token itself never reaches the disk. */
  tokenHash: string;
  /** Lease expiry, epoch ms from the store clock. */
  expiresAtMs: number;
  /** True after a release: the next claim may take it at once. */
  released: boolean;
}

/** Payload of a fence event. */
export interface FencePayload extends FenceRecord {
  op: "claim" | "renew" | "takeover" | "release";
}

/** Payload of a cursor checkpoint event. */
export interface CursorPayload {
  name: string;
  position: number;
}

/** System state derived from system events. */
export class SystemState {
  /** Scope → fence. */
  readonly fences: Map<string, FenceRecord> = new Map();
  /** Cursor name → position. */
  readonly cursors: Map<string, number> = new Map();
  /** Deleted, truncated, retained and redacted streams and events. */
  lifecycle: LifecycleState = new LifecycleState();

  /** Fold one system event in. Unknown kinds and malformed payloads are ignored. */
  apply(kind: number, scope: string, payload: unknown): void {
    const p = payload as Record<string, unknown> | null;
    if (typeof p !== "object" || p === null) return;
    if (kind === SystemKind.Fence) {
      const f = p as unknown as FencePayload;
      if (typeof f.owner !== "string" || typeof f.epoch !== "number") return;
      this.fences.set(scope, {
        owner: f.owner,
        epoch: f.epoch,
        tokenHash: String(f.tokenHash),
        expiresAtMs: Number(f.expiresAtMs),
        released: f.released === true,
      });
    } else if (kind === SystemKind.StreamDeleted) {
      this.lifecycle.deleteStream(p as unknown as DeletedPayload);
    } else if (kind === SystemKind.StreamTruncated) {
      this.lifecycle.truncate(p as unknown as TruncatedPayload);
    } else if (kind === SystemKind.RetentionSet) {
      this.lifecycle.retain(p as unknown as RetentionPayload);
    } else if (kind === SystemKind.EventRedacted) {
      this.lifecycle.redact(p as unknown as RedactedPayload);
    } else if (kind === SystemKind.CursorCheckpoint) {
      const c = p as unknown as CursorPayload;
      if (typeof c.name === "string" && typeof c.position === "number") {
        this.cursors.set(c.name, c.position);
      }
    }
  }

  /** Plain form for the sidecar. */
  toPlain(): unknown {
    return {
      fences: [...this.fences],
      cursors: [...this.cursors],
      lifecycle: this.lifecycle.toPlain(),
    };
  }

  /** Restore from {@linkcode SystemState.toPlain} output; ignores malformed input. */
  static fromPlain(plain: unknown): SystemState {
    const s = new SystemState();
    const p = plain as { fences?: unknown; cursors?: unknown; lifecycle?: unknown } | undefined;
    if (Array.isArray(p?.fences)) {
      for (const [scope, rec] of p.fences as [string, FenceRecord][]) s.fences.set(scope, rec);
    }
    if (Array.isArray(p?.cursors)) {
      for (const [name, pos] of p.cursors as [string, number][]) s.cursors.set(name, pos);
    }
    s.lifecycle = LifecycleState.fromPlain(p?.lifecycle);
    return s;
  }
}
