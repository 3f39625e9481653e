/**
 * The crash oracle shared by the torture (R1) and the simulation (R2): after
 * a reopen, read every event back and check it against what is known.
 *
 * - Every event known from an earlier check (`committed`) is back
 *   byte-identical: id, hash chain links, timestamp, payload.
 * - Every event past that is exactly what the workload appended at that
 *   global sequence (`candidate(g)`), with the id and hash of its receipt
 *   when one was seen.
 * - Every event acknowledged durable (`mustHave`) is present.
 * - Global order is gapless, per-entity sequences and hash links are
 *   consistent, `stream()` agrees, correlation ids point backwards.
 * - No partial batch: a batch id appears with all its items, contiguous.
 * - A compaction op's secret (entity `gone:…`) reads redacted exactly when its
 *   redaction event (the next global sequence) is there, and that event names it.
 * - `verify()` is clean and checked every event.
 *
 * @module
 */

import { Region, type Store, type StoredEvent, StoreError } from "../../mod.ts";
import {
  canonical,
  GONE_PREFIX,
  isRedactionItem,
  type Payload,
  REDACTION_REASON,
} from "./workload.ts";

/** The payload text of a redacted event. */
export const REDACTED = "<redacted>";

/** One event as read back. */
export interface Rec {
  g: number;
  eventId: string;
  entity: string;
  scope: string;
  kind: number;
  sequence: number;
  timestampMs: number;
  /** Canonical text of the payload. */
  payload: string;
  prevHash: string;
  eventHash: string;
  correlationId?: string;
  causationId?: string;
}

/** What may stand at a global sequence past the committed prefix. */
export interface Candidate {
  entity: string;
  kind: number;
  /** Canonical text of the payload. */
  payload: string;
  /** Known from a receipt or an ack line. */
  eventId?: string;
  eventHash?: string;
  sequence?: number;
}

/** Everything the oracle knows before a reopen. */
export interface Expectation {
  /** Events verified by the previous check, `committed[g - 1]`. */
  committed: readonly Rec[];
  /** What the workload appended at `g` past the committed prefix, if anything. */
  candidate(g: number): Candidate | undefined;
  /** Every global sequence up to this one was acknowledged durable. */
  mustHave: number;
}

/** The outcome of {@linkcode checkStore}. */
export interface CheckResult {
  /** Violations; empty when the store passed. */
  problems: string[];
  /** Every event, as read back (the next check's `committed`). */
  records: Rec[];
  /** Problems reported by `verify()`. */
  verifyProblems: string[];
  /**
   * Loud failures: reads that threw a typed error, and `verify()` problems.
   * Violations in the strict oracle; tolerated (as "detected") after a lying
   * disk, where only silently wrong data is a violation.
   */
  loud: string[];
}

const PROBLEMS_MAX = 20;

/** Turn a stored event into a record. */
export function toRec(ev: StoredEvent): Rec {
  const rec: Rec = {
    g: ev.globalSequence,
    eventId: ev.eventId,
    entity: ev.entity,
    scope: ev.scope,
    kind: ev.kind,
    sequence: ev.sequence,
    timestampMs: ev.timestampMs,
    payload: ev.redacted ? REDACTED : canonical(ev.payload),
    prevHash: ev.prevHash,
    eventHash: ev.eventHash,
  };
  if (ev.correlationId !== undefined) rec.correlationId = ev.correlationId;
  if (ev.causationId !== undefined) rec.causationId = ev.causationId;
  return rec;
}

function same(a: Rec, b: Rec): string | undefined {
  for (const k of Object.keys(a) as (keyof Rec)[]) {
    if (a[k] !== b[k]) return `${k}: expected ${String(a[k])}, found ${String(b[k])}`;
  }
  for (const k of Object.keys(b) as (keyof Rec)[]) {
    if (!(k in a)) return `${k}: not expected, found ${String(b[k])}`;
  }
  return undefined;
}

/** Check `store` against `exp` (see the module doc). Never throws for a violation. */
export function checkStore(store: Store, exp: Expectation): CheckResult {
  const problems: string[] = [];
  const loud: string[] = [];
  const fail = (msg: string): void => {
    if (problems.length < PROBLEMS_MAX) problems.push(msg);
  };
  const unreadable: number[] = [];
  // With the store's own events: the workload's redactions are system events.
  const entries = store.query(Region.all().withSystem());
  const n = entries.length;
  if (store.diagnostics().events !== n) {
    fail(`diagnostics().events is ${store.diagnostics().events}, query(all) returned ${n}`);
  }
  if (n < exp.mustHave) {
    fail(`acknowledged-durable events lost: the store holds ${n}, ${exp.mustHave} were acked`);
  }
  const records: Rec[] = [];
  const idToG = new Map<string, number>();
  // hash undefined: the previous event could not be read, so its link cannot be checked.
  const perEntity = new Map<string, { seq: number; hash: string | undefined; gs: number[] }>();
  const batches = new Map<string, { gs: number[]; is: number[]; n: number }>();
  /** Secrets read redacted whose redaction event is not seen yet. */
  const redactedAt = new Set<number>();
  for (let i = 0; i < n; i++) {
    const entry = entries[i];
    const g = i + 1;
    if (entry.globalSequence !== g) {
      fail(`global order has a gap: position ${g} holds globalSequence ${entry.globalSequence}`);
      break;
    }
    idToG.set(entry.eventId, g);
    let ev: StoredEvent;
    try {
      ev = store.get(entry.eventId);
    } catch (e) {
      if (!(e instanceof StoreError)) {
        fail(`g=${g}: get(${entry.eventId}) threw an untyped ${(e as Error).name}`);
      }
      loud.push(`g=${g}: get() threw ${(e as Error).name}: ${(e as Error).message}`);
      unreadable.push(g);
      const chain = perEntity.get(entry.entity) ?? { seq: 0, hash: "", gs: [] };
      chain.seq = entry.sequence;
      chain.hash = undefined;
      chain.gs.push(g);
      perEntity.set(entry.entity, chain);
      continue;
    }
    const rec = toRec(ev);
    records.push(rec);
    if (
      rec.g !== g || rec.entity !== entry.entity || rec.scope !== entry.scope ||
      rec.kind !== entry.kind || rec.sequence !== entry.sequence ||
      rec.timestampMs !== entry.timestampMs
    ) {
      fail(`g=${g}: get() disagrees with the index entry`);
    }
    if (g <= exp.committed.length) {
      const diff = same(exp.committed[g - 1], rec);
      if (diff) fail(`g=${g}: an event verified before changed: ${diff}`);
    } else {
      const c = exp.candidate(g);
      const redaction = c !== undefined && isRedactionItem(c.entity, c.kind);
      const redactedSecret = c !== undefined && c.entity.startsWith(GONE_PREFIX) &&
        rec.payload === REDACTED;
      if (!c) fail(`g=${g}: an event nobody appended (${rec.entity}, ${rec.payload.slice(0, 80)})`);
      else if (
        c.entity !== rec.entity || c.kind !== rec.kind ||
        (!redaction && !redactedSecret && c.payload !== rec.payload)
      ) {
        fail(
          `g=${g}: wrong event: expected ${c.entity} ${
            c.payload.slice(0, 80)
          }, found ${rec.entity} ${rec.payload.slice(0, 80)}`,
        );
      } else if (
        (c.eventId !== undefined && c.eventId !== rec.eventId) ||
        (c.eventHash !== undefined && c.eventHash !== rec.eventHash) ||
        (c.sequence !== undefined && c.sequence !== rec.sequence)
      ) {
        fail(`g=${g}: the event differs from its receipt (id, hash or sequence)`);
      }
    }
    if (rec.payload === REDACTED) {
      if (!rec.entity.startsWith(GONE_PREFIX)) fail(`g=${g}: ${rec.entity} reads redacted`);
      redactedAt.add(g);
    }
    if (isRedactionItem(rec.entity, rec.kind)) {
      const want = canonical({
        globalSequence: g - 1,
        eventId: records.at(-2)?.eventId,
        reason: REDACTION_REASON,
      });
      if (rec.payload !== want || !redactedAt.delete(g - 1)) {
        fail(`g=${g}: a redaction that does not name the redacted secret before it`);
      }
    }
    if (idToG.get(rec.eventId) !== g) fail(`g=${g}: duplicate event id ${rec.eventId}`);
    for (const link of [rec.correlationId, rec.causationId]) {
      if (link !== undefined && !(idToG.get(link)! < g)) {
        fail(`g=${g}: correlation/causation ${link} is not an earlier event`);
      }
    }
    const chain = perEntity.get(rec.entity) ?? { seq: 0, hash: "", gs: [] };
    if (rec.sequence !== chain.seq + 1) {
      fail(`g=${g}: ${rec.entity} sequence ${rec.sequence}, expected ${chain.seq + 1}`);
    }
    if (chain.hash !== undefined && rec.prevHash !== chain.hash) {
      fail(`g=${g}: ${rec.entity} prevHash breaks the chain`);
    }
    chain.seq = rec.sequence;
    chain.hash = rec.eventHash;
    chain.gs.push(g);
    perEntity.set(rec.entity, chain);
    let p: Partial<Payload> | undefined;
    try {
      p = JSON.parse(rec.payload);
    } catch { /* not a workload payload */ }
    if (p && typeof p === "object" && typeof p.b === "string") {
      const b = batches.get(p.b) ?? { gs: [], is: [], n: p.n ?? -1 };
      b.gs.push(g);
      b.is.push(p.i ?? -1);
      batches.set(p.b, b);
    }
  }
  for (const g of redactedAt) fail(`g=${g}: a secret reads redacted with no redaction after it`);
  // An unreadable event may be a batch item: the batch check needs every payload.
  if (unreadable.length > 0) loud.push(`batch check skipped: ${unreadable.length} unreadable`);
  else {
    for (const [id, b] of batches) {
      const whole = b.gs.length === b.n && b.is.every((v, i) => v === i) &&
        b.gs.every((g, i) => g === b.gs[0] + i);
      if (!whole) {
        fail(`partial or torn batch ${id}: items [${b.is}] of ${b.n} at g [${b.gs}]`);
      }
    }
  }
  for (const [entity, chain] of perEntity) {
    const gs = store.stream(entity).map((e) => e.globalSequence);
    if (gs.join() !== chain.gs.join()) fail(`stream(${entity}) disagrees with the log`);
  }
  const report = store.verify();
  const verifyProblems = report.problems.map((p) => `${p.file}@${p.offset}: ${p.message}`);
  if (!report.ok) {
    loud.push(`verify() found ${report.problems.length} problems: ${verifyProblems[0]}`);
  } else if (report.eventsChecked !== n) {
    fail(`verify() is ok but checked ${report.eventsChecked} events; the store holds ${n}`);
  }
  return { problems, records, verifyProblems, loud };
}
