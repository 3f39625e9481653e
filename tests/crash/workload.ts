/**
 * The seeded workload shared by the real-crash torture (R1) and the
 * deterministic simulation (R2): a pure function of `(seed, round)`, so the
 * parent of a killed child can recompute exactly which event the child
 * appended at every global sequence, and a simulation replays from its seed.
 *
 * Every payload names where it came from (`r` round, `k` op, `i` item) and,
 * for batch items, the batch id `b` and size `n`: a partial batch is visible
 * in the payloads alone.
 *
 * @module
 */

import {
  type AppendOptions,
  type AppendReceipt,
  type BatchAppendItem,
  type CompactReport,
  Coordinate,
  EventKind,
  Region,
  type Store,
} from "../../mod.ts";

/** mulberry32: a tiny seeded PRNG (the same one MemoryFileSystem uses for torn crashes). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Seeded choices. */
export class Rng {
  readonly #next: () => number;
  /** A generator for `seed`; mix several numbers with {@linkcode mixSeed}. */
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#next() < p;
  }
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }
}

/** Combine numbers into one 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h >>> 0;
}

/** The scope of every workload event. */
export const SCOPE = "torture";
/** Kind of plain workload events. */
export const KIND_PLAIN = EventKind.custom(0x1, 1);
/** Kind of events appended with an idempotency key (found again by kind for dedup checks). */
export const KIND_KEYED = EventKind.custom(0x2, 1);
/** Kind of the redaction system events (the store's own: `SystemKind.EventRedacted`). */
const REDACTION_KIND = 0x007 as EventKind;
/** Entity of the store's lifecycle events. */
const LIFECYCLE_ENTITY = "$lifecycle";
/** Kind of the parent's "still writable" probe. */
export const KIND_PROBE = EventKind.custom(0x3, 1);
const ENTITIES = ["acct:0", "acct:1", "acct:2", "order:a", "order:b", "cart:é", "cart:日本"];
const FILLER = "abcdefghijklmnopqrstuvwxyz0123456789";

/** What every workload payload holds. */
export interface Payload {
  /** Round (a child process, or a simulation epoch). */
  r: number;
  /** Op index within the round. */
  k: number;
  /** Item index within the op (0 for singles). */
  i: number;
  /** Batch id `"r.k"`, or null for a single append. */
  b: string | null;
  /** Items in the batch (1 for singles). */
  n: number;
  /** The idempotency key, when appended with one. */
  key?: string;
  /** Filler of seeded length and content. */
  f: string;
}

/** One event to append. */
export interface Item {
  entity: string;
  kind: EventKind;
  payload: Payload;
  /** Pass `expectedSequence` (computed by the caller from the stream). */
  cas: boolean;
  /** Correlate with the previous receipt of this round. */
  correlate: boolean;
  /** Batch only: caused by an earlier item of the batch. */
  priorItem?: number;
}

/** One workload step. */
export type Op =
  | { t: "single"; item: Item; wait: boolean }
  | { t: "keyed"; item: Item; key: string; wait: boolean }
  | { t: "batch"; items: Item[] }
  | { t: "group"; items: Item[] }
  | { t: "sync" }
  | { t: "retry" }
  | { t: "compact"; item: Item };

/** Filler text: seeded slices of one long string (fast even for the rare 400 KB payload). */
const FILLER_SOURCE = FILLER.repeat(Math.ceil(420_000 / FILLER.length) + 1);

function filler(rng: Rng): string {
  const roll = rng.float();
  const length = roll < 0.85
    ? rng.int(0, 64)
    : roll < 0.97
    ? rng.int(200, 2_000)
    : roll < 0.998
    ? rng.int(10_000, 40_000)
    : rng.int(300_000, 400_000); // past the 256 KiB write buffer
  const start = rng.int(0, FILLER.length - 1);
  return FILLER_SOURCE.slice(start, start + length);
}

/** The ops of one round: an endless, seeded sequence. */
export function* workload(seed: number, round: number): Generator<Op> {
  const rng = new Rng(mixSeed(seed, round, 0x5eed));
  for (let k = 0;; k++) {
    const item = (i: number, b: string | null, n: number, kind = KIND_PLAIN): Item => ({
      entity: rng.pick(ENTITIES),
      kind,
      payload: { r: round, k, i, b, n, f: filler(rng) },
      cas: rng.chance(0.2),
      correlate: rng.chance(0.1),
    });
    const roll = rng.float();
    if (roll < 0.36) yield { t: "single", item: item(0, null, 1), wait: rng.chance(0.25) };
    else if (roll < 0.56) yield { t: "single", item: item(0, null, 1), wait: true };
    else if (roll < 0.76) {
      const n = rng.chance(0.02) ? 0 : rng.int(1, rng.chance(0.1) ? 40 : 8);
      const b = `${round}.${k}`;
      const items: Item[] = [];
      for (let i = 0; i < n; i++) {
        const it = item(i, b, n);
        if (i > 0 && rng.chance(0.3)) it.priorItem = rng.int(0, i - 1);
        items.push(it);
      }
      yield { t: "batch", items };
    } else if (roll < 0.86) {
      const key = `${seed}:${round}:${k}`;
      const it = item(0, null, 1, KIND_KEYED);
      it.payload.key = key;
      yield { t: "keyed", item: it, key, wait: rng.chance(0.5) };
    } else if (roll < 0.92) {
      const n = rng.int(2, 6);
      const items: Item[] = [];
      for (let i = 0; i < n; i++) items.push(item(0, null, 1));
      yield { t: "group", items };
    } else if (roll < 0.96) yield { t: "sync" };
    else if (roll < 0.985) yield { t: "retry" };
    else {
      // A secret appended, redacted and compacted away: compaction (SIGKILL and faults at any
      // point of it included) must leave every other event byte-identical.
      const it = item(0, null, 1);
      it.entity = `${GONE_PREFIX}${round}.${k}`;
      it.cas = false;
      it.correlate = false;
      yield { t: "compact", item: it };
    }
  }
}

/**
 * The events an op writes, in log order (retries and syncs write none; a
 * compaction writes its secret and the redaction's system event).
 */
export function itemsOf(op: Op): Item[] {
  switch (op.t) {
    case "single":
    case "keyed":
      return [op.item];
    case "compact":
      return [op.item, redactionOf(op.item)];
    case "batch":
    case "group":
      return op.items;
    default:
      return [];
  }
}

/** Entity prefix of the secrets a compaction op redacts. */
export const GONE_PREFIX = "gone:";
/** Reason given for the workload's redactions. */
export const REDACTION_REASON = "workload";

/**
 * The pseudo-item standing for the redaction event of `secret` (entity
 * `"$lifecycle"`, a system kind): its payload names the secret's global
 * sequence and id, which only the log knows, so the oracle checks it by
 * shape ({@linkcode isRedactionItem}).
 */
function redactionOf(secret: Item): Item {
  return {
    entity: LIFECYCLE_ENTITY,
    kind: REDACTION_KIND,
    payload: { ...secret.payload, f: REDACTION_REASON },
    cas: false,
    correlate: false,
  };
}

/** True for the pseudo-item of a redaction. */
export function isRedactionItem(entity: string, kind: number): boolean {
  return entity === LIFECYCLE_ENTITY && kind === REDACTION_KIND;
}

/** The canonical text of a payload, for byte-level comparison. */
export function canonical(payload: unknown): string {
  return JSON.stringify(payload, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
}

/** A short digest of a payload (FNV-1a over its canonical text), for ack lines. */
export function digest(payload: unknown): string {
  const s = canonical(payload);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0") + s.length.toString(16);
}

/** The coordinate of a workload entity. */
export function coordOf(entity: string): Coordinate {
  return new Coordinate(entity, SCOPE);
}

/** The `expectedSequence` an item should carry right now (counting earlier batch items). */
export function expectedSequenceOf(store: Store, entity: string, earlierInBatch = 0): number {
  return store.stream(entity).length + earlierInBatch;
}

/** An event the store acknowledged as durable. */
export interface Ack {
  g: number;
  eventId: string;
  entity: string;
  sequence: number;
  eventHash: string;
  /** {@linkcode digest} of the payload. */
  d: string;
}

/** What {@linkcode execute} reports, as it happens. */
export interface Reporter {
  /** These items are about to be written by one call (they may land even if it throws). */
  attempt(items: Item[]): void;
  /** The call for these items returned: the events are visible, not yet known durable. */
  written(items: Item[], receipts: AppendReceipt[]): void;
  /** Everything written so far is durable (a durable(), sync() or batch returned). */
  acked(acks: Ack[]): void;
  /** A repeated idempotency key returned the first receipt (`ok`), or did not. */
  dedup(ok: boolean, detail: string): void;
  /** A compaction finished (what it reported). */
  compacted?(report: CompactReport): void;
}

/** Per-round executor state. */
export class Executor {
  readonly #store: Store;
  readonly #report: Reporter;
  readonly #rng: Rng;
  #lastEventId: string | undefined;
  #unacked: Ack[] = [];

  /** Run ops against `store`, reporting to `report`; `seed` drives retry choices. */
  constructor(store: Store, report: Reporter, seed: number) {
    this.#store = store;
    this.#report = report;
    this.#rng = new Rng(seed);
  }

  #options(item: Item, earlierInBatch: number, key?: string): AppendOptions {
    const o: AppendOptions = {};
    if (item.cas) o.expectedSequence = expectedSequenceOf(this.#store, item.entity, earlierInBatch);
    if (item.correlate && this.#lastEventId) o.correlationId = this.#lastEventId;
    if (key !== undefined) o.idempotencyKey = key;
    return o;
  }

  #wrote(items: Item[], receipts: AppendReceipt[]): void {
    this.#report.written(items, receipts);
    for (let i = 0; i < items.length; i++) {
      const r = receipts[i];
      this.#unacked.push({
        g: r.globalSequence,
        eventId: r.eventId,
        entity: items[i].entity,
        sequence: r.sequence,
        eventHash: r.eventHash,
        d: digest(items[i].payload),
      });
      this.#lastEventId = r.eventId;
    }
  }

  #ackAll(upTo = Number.MAX_SAFE_INTEGER): void {
    const done = this.#unacked.filter((a) => a.g <= upTo);
    this.#unacked = this.#unacked.filter((a) => a.g > upTo);
    if (done.length > 0) this.#report.acked(done);
  }

  #appendOne(item: Item, key?: string): AppendReceipt {
    this.#report.attempt([item]);
    const r = this.#store.append(
      coordOf(item.entity),
      item.kind,
      item.payload,
      this.#options(item, 0, key),
    );
    this.#wrote([item], [r]);
    return r;
  }

  /** Run one op; throws whatever the store throws. */
  async run(op: Op): Promise<void> {
    const store = this.#store;
    switch (op.t) {
      case "single":
      case "keyed": {
        this.#appendOne(op.item, op.t === "keyed" ? op.key : undefined);
        if (op.wait) {
          await store.durable();
          this.#ackAll();
        }
        return;
      }
      case "batch": {
        const perEntity = new Map<string, number>();
        const batch: BatchAppendItem[] = op.items.map((item) => {
          const earlier = perEntity.get(item.entity) ?? 0;
          perEntity.set(item.entity, earlier + 1);
          return {
            coord: coordOf(item.entity),
            kind: item.kind,
            payload: item.payload,
            options: this.#options(item, earlier),
            causation: item.priorItem === undefined ? undefined : { priorItem: item.priorItem },
          };
        });
        if (op.items.length > 0) this.#report.attempt(op.items);
        const receipts = store.appendBatch(batch);
        if (op.items.length > 0) {
          this.#wrote(op.items, receipts);
          // A batch that writes is synced before it returns, and so is everything before it;
          // an empty batch writes and syncs nothing.
          this.#ackAll();
        }
        return;
      }
      case "group": {
        // Overlapping durable() callers share fsyncs (group commit).
        const waits: Promise<number>[] = [];
        let failure: unknown;
        try {
          for (const item of op.items) {
            const r = this.#appendOne(item);
            waits.push(store.durable().then(() => r.globalSequence));
          }
        } catch (e) {
          failure = e; // still settle the waits already started
        }
        for (const w of waits) {
          try {
            this.#ackAll(await w);
          } catch (e) {
            failure ??= e;
          }
        }
        if (failure !== undefined) throw failure;
        return;
      }
      case "sync":
        store.sync();
        this.#ackAll();
        return;
      case "compact": {
        const r = this.#appendOne(op.item);
        const redaction = redactionOf(op.item);
        this.#report.attempt([redaction]);
        store.redact(r.eventId, REDACTION_REASON); // fsynced: everything before it is durable
        const last = store.queryAfter(Region.all().withSystem(), r.globalSequence, 1)[0];
        this.#report.written([redaction], [{
          eventId: last.eventId,
          sequence: last.sequence,
          globalSequence: last.globalSequence,
          eventHash: store.get(last.eventId).eventHash,
          duplicate: false,
        }]);
        this.#ackAll();
        this.#report.compacted?.(await store.compact());
        return;
      }
      case "retry": {
        const keyed = store.query(Region.all().withKinds(KIND_KEYED));
        if (keyed.length === 0) return;
        const picks = [keyed[keyed.length - 1], keyed[this.#rng.int(0, keyed.length - 1)]];
        for (const entry of picks) {
          const original = store.get(entry.eventId).payload as Payload;
          const before = store.diagnostics().events;
          const again = store.append(
            coordOf(entry.entity),
            KIND_KEYED,
            { ...original, f: "a different payload" },
            { idempotencyKey: original.key },
          );
          const ok = again.eventId === entry.eventId &&
            again.globalSequence === entry.globalSequence &&
            store.diagnostics().events === before;
          this.#report.dedup(
            ok,
            `key ${original.key}: first ${entry.eventId} @${entry.globalSequence}, again ${again.eventId} @${again.globalSequence}`,
          );
        }
        return;
      }
    }
  }
}
