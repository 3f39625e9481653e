/**
 * Reading events back: the one decoder from frames to `StoredEvent`, and
 * reading many events at once.
 *
 * Events that sit close together in one segment are fetched with one read
 * of up to {@linkcode READ_CHUNK_BYTES} instead of one read per frame; every
 * frame is still CRC-checked and must hold the global sequence and event id
 * the index says it holds.
 *
 * Events come out as plain objects, shaped exactly alike on every read path
 * (structured-cloneable, spreadable): their id and hashes are built as one
 * ASCII string and sliced.
 *
 * @module
 */

import { CorruptSegmentError, StoreClosedError } from "../core/errors.ts";
import { crc32Ranges } from "../core/crc32_ranges.ts";
import { HASH_BYTES } from "../core/hash.ts";
import type { EventKind } from "../core/kind.ts";
import { PayloadDecodeError, type PayloadDecoder } from "../core/payload.ts";
import type { LifecycleState } from "../core/lifecycle.ts";
import type { ReplayedEvent, StoredEvent } from "../core/types.ts";
import { type Index, PAGE_BITS, PAGE_ROWS } from "../index/index.ts";
import { type EventHeader, newHeader } from "../log/event_codec.ts";
import { readEventFrame } from "../log/frames.ts";
import type { SegmentReader } from "../log/reader.ts";
import { segmentName } from "../log/segment.ts";
import type { LogEnd } from "../log/writer.ts";
import type { KindRegistry } from "../core/kind_registry.ts";
import { upcastEvent } from "./upcast.ts";
import type { Visibility } from "../index/visibility.ts";

/** What the read side needs of a store: its index, the log, and its append notifications. */
export interface EventSource {
  /** The index of every event. */
  readonly index: Index;
  /** The end of the log (the writer, whose buffer holds the newest frames). */
  readonly end: LogEnd;
  /** Positional frame reads. */
  readonly reader: SegmentReader;
  /** This store's payload decoder. */
  readonly decoder: PayloadDecoder;
  /** This store's text scratch for ids and hashes (its own: no state shared between stores). */
  readonly text: EventText;
  /** The same for its replays, which make no texts (`new EventText(false)`). */
  readonly replayText: EventText;
  /** True once the store is closed. */
  readonly closed: boolean;
  /** The kinds this store registered (`StoreConfig.kinds`), whose older events are upcast; absent: none. */
  readonly kinds?: KindRegistry;
  /** What is deleted, truncated, retained or redacted. */
  readonly lifecycle: LifecycleState;
  /** This store's cache of what the lifecycle state hides. */
  readonly visibility: Visibility;
  /** Call `listener` after every append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** The store's clock, checked. */
  now(): number;
}

/** Largest single read when fetching a run of neighbouring frames, bytes. */
export const READ_CHUNK_BYTES = 1 << 20;
/** Unwanted bytes between two wanted frames that are still read through rather than skipped. */
export const READ_GAP_BYTES_MAX = 16 * 1024;

const PAGE_MASK = PAGE_ROWS - 1;
/** Frames of a run whose CRCs are computed in one call (`crc32Ranges`) before they are decoded. */
const CRC_GROUP_FRAMES = 256;
const ID_TEXT_CHARS = 36;
const HASH_TEXT_CHARS = 64;
const DASH = 0x2d;
const HEX_CODES = new TextEncoder().encode("0123456789abcdef");
/** Both hex digits of a byte, as one little-endian u16 of two ASCII codes (every platform V8 runs on is little-endian). */
const HEX_PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) HEX_PAIRS[b] = HEX_CODES[b >>> 4] | (HEX_CODES[b & 15] << 8);
/**
 * Events whose texts are made by one `TextDecoder` call. The call's fixed
 * cost dominated a read (a third of it, measured); a batch amortizes it.
 * The texts are slices of the batch's string, so an event kept alone keeps
 * at most a batch's text (~15 KiB) alive.
 */
export const TEXT_BATCH_EVENTS = 64;
/** Text bytes one event may need: its id, hash, previous hash, correlation and causation ids. */
const EVENT_TEXT_BYTES_MAX = 3 * ID_TEXT_CHARS + 2 * HASH_TEXT_CHARS;
// Hash texts by entity: reading an entity's events in order, each event's prevHash is the
// previous event's eventHash, so its text is reused instead of rebuilt (and, in format 2,
// found without reading the previous frame). A direct-mapped table (slot = entity id mod
// size) keeps this O(1) and bounded; a slot remembers the global sequence whose hash it
// holds, so a slot shared by two entities is only a miss.
const HASH_CACHE_SLOTS = 1024;
// What `#checkLink` found.
const LINK_CACHED = 0;
const LINK_IN_FRAME = 1;
const LINK_READ_BACK = 2;
const LINK_BROKEN = 3;
/** No text yet (a placeholder of the same type, so every event has one shape). */
const UNSET = "";

/**
 * The text forms of one store's ids and hashes, made in batches: each
 * event's id and hashes are written as ASCII hex into a scratch buffer, and
 * one `TextDecoder` call per batch turns a batch of them into one string,
 * which the events' fields are slices of. Concatenating hex digits instead
 * builds ropes (dozens of short-lived objects per event), and a decode per
 * event costs its fixed overhead every time. Each store has its own (no
 * state shared between stores).
 *
 * Also checks the hash chain on every read: the link an event's frame holds
 * to its predecessor must be the predecessor's hash.
 */
export class EventText {
  /** Scratch header the decoder fills per frame (no allocation per event). */
  readonly header: EventHeader = newHeader();
  /**
   * False for a replay's ({@linkcode ReplayedEvent}s): no id or hash texts
   * are made and nothing is queued — each event is handed over as it is
   * decoded, its hash chain checked all the same ({@linkcode EventText.chain}).
   * Its cache is its own, so a text-less read never hands a full read an
   * empty text.
   */
  readonly texts: boolean;

  /** The text scratch of one store's full reads (`texts`, the default) or of its replays. */
  constructor(texts = true) {
    this.texts = texts;
    this.#text = new Uint8Array(texts ? TEXT_BATCH_EVENTS * EVENT_TEXT_BYTES_MAX : 0);
    this.#quads = new Uint32Array(this.#text.buffer);
  }
  /**
   * Scratch for checking a group of frames' CRCs at once (their ranges, then
   * their CRCs), for the outermost read only: a visitor that reads the store
   * while a read is between two of its groups gets its own (see
   * {@linkcode crcScratch}).
   */
  readonly #crcScratch: CrcScratch = newCrcScratch();
  #crcScratchInUse = false;

  /** Scratch for one read's CRC groups, and whether it is the shared one (give it back). */
  crcScratch(): CrcScratch {
    if (this.#crcScratchInUse) return newCrcScratch();
    this.#crcScratchInUse = true;
    return this.#crcScratch;
  }

  /** The read that took {@linkcode crcScratch} is over. */
  releaseCrcScratch(scratch: CrcScratch): void {
    if (scratch === this.#crcScratch) this.#crcScratchInUse = false;
  }
  readonly #text: Uint8Array;
  /** The scratch as little-endian words of four characters. */
  readonly #quads: Uint32Array;
  // UTF-8 decoding of ASCII bytes has a fast path (a latin1 decoder measured 3x slower).
  readonly #ascii = new TextDecoder();
  #w = 0;
  #events: StoredEvent[] = [];
  /** The queued events' stored schema versions (a plain array: handed over with the queue). */
  #schema: number[] = [];
  /** The cache slot of each queued event (so a flush visits those, not every slot). */
  readonly #slotOf = new Int32Array(TEXT_BATCH_EVENTS);
  readonly #idAt = new Int32Array(TEXT_BATCH_EVENTS);
  readonly #hashAt = new Int32Array(TEXT_BATCH_EVENTS);
  /** Where the previous hash's text is: ≥ 0 in the scratch, -1 known already, -2 - j: event j's hash. */
  readonly #prevAt = new Int32Array(TEXT_BATCH_EVENTS);
  readonly #corrAt = new Int32Array(TEXT_BATCH_EVENTS);
  readonly #causAt = new Int32Array(TEXT_BATCH_EVENTS);
  readonly #slotG = new Float64Array(HASH_CACHE_SLOTS);
  /** The first 8 bytes of the slot's hash, as two words. */
  readonly #slotLink = new Uint32Array(HASH_CACHE_SLOTS * 2);
  readonly #slotText: string[] = new Array(HASH_CACHE_SLOTS).fill(UNSET);
  /** The batch position of the slot's event while its text is not made yet, else -1. */
  readonly #slotPending = new Int32Array(HASH_CACHE_SLOTS).fill(-1);

  /** The predecessor's hash last read back by {@linkcode EventText.#checkLink}. */
  #prevBytes: Uint8Array = new Uint8Array(0);

  /** Events queued, not flushed yet. */
  get pending(): number {
    return this.#events.length;
  }

  /**
   * The canonical UUID text (8-4-4-4-12) of the 16 bytes at `buf[at]`, as
   * nine 4-character words. Every text is 36 or 64 characters, so each
   * starts at a multiple of 4 of the scratch.
   */
  #writeId(buf: Uint8Array, at: number): number {
    const quads = this.#quads;
    const start = this.#w;
    const q = start >>> 2;
    quads[q] = HEX_PAIRS[buf[at]] | (HEX_PAIRS[buf[at + 1]] << 16);
    quads[q + 1] = HEX_PAIRS[buf[at + 2]] | (HEX_PAIRS[buf[at + 3]] << 16);
    const b5 = buf[at + 5];
    const b8 = buf[at + 8];
    quads[q + 2] = DASH | (HEX_PAIRS[buf[at + 4]] << 8) | (HEX_CODES[b5 >>> 4] << 24);
    quads[q + 3] = HEX_CODES[b5 & 15] | (DASH << 8) | (HEX_PAIRS[buf[at + 6]] << 16);
    quads[q + 4] = HEX_PAIRS[buf[at + 7]] | (DASH << 16) | (HEX_CODES[b8 >>> 4] << 24);
    quads[q + 5] = HEX_CODES[b8 & 15] | (HEX_PAIRS[buf[at + 9]] << 8) | (DASH << 24);
    quads[q + 6] = HEX_PAIRS[buf[at + 10]] | (HEX_PAIRS[buf[at + 11]] << 16);
    quads[q + 7] = HEX_PAIRS[buf[at + 12]] | (HEX_PAIRS[buf[at + 13]] << 16);
    quads[q + 8] = HEX_PAIRS[buf[at + 14]] | (HEX_PAIRS[buf[at + 15]] << 16);
    this.#w = start + ID_TEXT_CHARS;
    return start;
  }

  #writeHash(buf: Uint8Array, at: number): number {
    const start = this.#w;
    const quads = this.#quads;
    for (let i = 0, q = start >>> 2; i < HASH_BYTES; i += 2, q++) {
      quads[q] = HEX_PAIRS[buf[at + i]] | (HEX_PAIRS[buf[at + i + 1]] << 16);
    }
    this.#w = start + HASH_TEXT_CHARS;
    return start;
  }

  /**
   * Check the link of the frame `h` in `buf` (of the entity in cache slot
   * `slot`) to its entity's previous event `prevG`: {@linkcode LINK_CACHED}
   * when the cache holds that event's hash and the link is it,
   * {@linkcode LINK_BROKEN} when the link is not the predecessor's hash,
   * else {@linkcode LINK_IN_FRAME} (format 1: the frame holds the whole
   * previous hash) or {@linkcode LINK_READ_BACK} (format 2: the link matched
   * the predecessor's hash, read back from `source` into
   * {@linkcode EventText.#prevBytes}).
   */
  #checkLink(
    slot: number,
    prevG: number,
    buf: Uint8Array,
    h: EventHeader,
    source: EventSource,
  ): number {
    const linkAt = h.prevHashAt >= 0 ? h.prevHashAt : h.prevLinkAt;
    const link0 = readWord(buf, linkAt);
    const link1 = readWord(buf, linkAt + 4);
    if (this.#slotG[slot] === prevG) {
      const cached = this.#slotLink[slot * 2] === link0 && this.#slotLink[slot * 2 + 1] === link1;
      return cached ? LINK_CACHED : LINK_BROKEN;
    }
    if (h.prevHashAt >= 0) return LINK_IN_FRAME;
    const prev = hashOf(source, prevG);
    if (readWord(prev, 0) !== link0 || readWord(prev, 4) !== link1) return LINK_BROKEN;
    this.#prevBytes = prev;
    return LINK_READ_BACK;
  }

  /** The cache slot `slot` now holds event `g`'s hash (its first 8 bytes, from the frame `h`). */
  #remember(slot: number, g: number, buf: Uint8Array, h: EventHeader): void {
    this.#slotG[slot] = g;
    this.#slotLink[slot * 2] = readWord(buf, h.hashAt);
    this.#slotLink[slot * 2 + 1] = readWord(buf, h.hashAt + 4);
  }

  /**
   * Queue `event` (its id and hash fields still {@linkcode UNSET}) of entity
   * `entity` at global sequence `g`, whose frame is in `buf` as `h` says;
   * `prevG` is its entity's previous event (0: none). Returns false, queuing
   * nothing, when the frame's link to its predecessor is not the
   * predecessor's hash (a broken chain). The predecessor's hash is read
   * back from `source` when neither the frame nor the cache has it.
   */
  add(
    event: StoredEvent,
    entity: number,
    g: number,
    prevG: number,
    buf: Uint8Array,
    h: EventHeader,
    source: EventSource,
  ): boolean {
    const n = this.#events.length;
    const slot = entity & (HASH_CACHE_SLOTS - 1);
    let prevAt = -1;
    if (prevG > 0) {
      const link = this.#checkLink(slot, prevG, buf, h, source);
      if (link === LINK_BROKEN) return false;
      if (link === LINK_CACHED) {
        const j = this.#slotPending[slot];
        if (j >= 0) prevAt = -2 - j;
        else event.prevHash = this.#slotText[slot];
      } else if (link === LINK_IN_FRAME) prevAt = this.#writeHash(buf, h.prevHashAt);
      else prevAt = this.#writeHash(this.#prevBytes, 0);
    }
    this.#idAt[n] = this.#writeId(buf, h.bodyAt);
    this.#hashAt[n] = this.#writeHash(buf, h.hashAt);
    this.#prevAt[n] = prevAt;
    this.#corrAt[n] = h.correlationAt >= 0 ? this.#writeId(buf, h.correlationAt) : -1;
    this.#causAt[n] = h.causationAt >= 0 ? this.#writeId(buf, h.causationAt) : -1;
    this.#schema.push(h.schemaVersion);
    this.#events.push(event);
    this.#remember(slot, g, buf, h);
    this.#slotPending[slot] = n;
    this.#slotOf[n] = slot;
    return true;
  }

  /**
   * For a text-less read ({@linkcode EventText.texts} false), which hands
   * each event over at once instead of queuing it: check the link of the
   * frame `h` of entity `entity`'s event `g` as {@linkcode EventText.add}
   * does, and remember its hash. Returns false on a broken chain.
   */
  chain(
    entity: number,
    g: number,
    prevG: number,
    buf: Uint8Array,
    h: EventHeader,
    source: EventSource,
  ): boolean {
    const slot = entity & (HASH_CACHE_SLOTS - 1);
    if (prevG > 0 && this.#checkLink(slot, prevG, buf, h, source) === LINK_BROKEN) return false;
    this.#remember(slot, g, buf, h);
    return true;
  }

  /**
   * Make the texts of the queued events and call `each(event,
   * schemaVersion)` for each, in order; the queue is empty afterwards (also
   * when `each` throws).
   */
  flush(each: (event: StoredEvent, schemaVersion: number) => void): void {
    const events = this.#events;
    const n = events.length;
    if (n === 0) return;
    this.#makeTexts(events);
    // Hand over from a fresh queue: `each` may read the store (and queue) again.
    const schema = this.#schema;
    this.#events = [];
    this.#schema = [];
    for (let k = 0; k < n; k++) each(events[k], schema[k]);
  }

  /** The id and hash texts of the queued `events`; the cache's pending slots get theirs. */
  #makeTexts(events: StoredEvent[]): void {
    const n = events.length;
    const all = this.#ascii.decode(this.#text.subarray(0, this.#w));
    for (let k = 0; k < n; k++) {
      const e = events[k];
      const idAt = this.#idAt[k];
      const hashAt = this.#hashAt[k];
      e.eventId = all.slice(idAt, idAt + ID_TEXT_CHARS);
      e.eventHash = all.slice(hashAt, hashAt + HASH_TEXT_CHARS);
      const prevAt = this.#prevAt[k];
      if (prevAt >= 0) e.prevHash = all.slice(prevAt, prevAt + HASH_TEXT_CHARS);
      else if (prevAt < -1) e.prevHash = events[-2 - prevAt].eventHash;
      const corrAt = this.#corrAt[k];
      if (corrAt >= 0) e.correlationId = all.slice(corrAt, corrAt + ID_TEXT_CHARS);
      const causAt = this.#causAt[k];
      if (causAt >= 0) e.causationId = all.slice(causAt, causAt + ID_TEXT_CHARS);
    }
    // The cache's pending slots now have their texts.
    const pending = this.#slotPending;
    for (let k = 0; k < n; k++) {
      const slot = this.#slotOf[k];
      if (pending[slot] === k) {
        this.#slotText[slot] = events[k].eventHash;
        pending[slot] = -1;
      }
    }
    this.#w = 0;
  }

  /** Drop the queued events (their reads failed); the cache forgets their hashes. */
  discard(): void {
    const pending = this.#slotPending;
    for (let k = 0; k < this.#events.length; k++) {
      const slot = this.#slotOf[k];
      if (pending[slot] >= 0) {
        pending[slot] = -1;
        this.#slotG[slot] = 0;
      }
    }
    this.#events.length = 0;
    this.#schema.length = 0;
    this.#w = 0;
  }

  /** True when another event fits in the batch. */
  get room(): boolean {
    return this.#events.length < TEXT_BATCH_EVENTS;
  }
}

function readWord(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** Receives one event. */
export type EventVisitor = (event: StoredEvent) => void;

/** A read's scratch for its CRC groups: the frames' ranges, then their CRCs. */
interface CrcScratch {
  bounds: Int32Array;
  crcs: Uint32Array;
}

function newCrcScratch(): CrcScratch {
  return { bounds: new Int32Array(2 * CRC_GROUP_FRAMES), crcs: new Uint32Array(CRC_GROUP_FRAMES) };
}

function corrupt(segment: number, offset: number, message: string): CorruptSegmentError {
  return new CorruptSegmentError(segmentName(segment), offset, message);
}

/** The hash bytes of event `g`, read back from the log. */
function hashOf(s: EventSource, g: number): Uint8Array {
  const loc = s.index.location(g);
  // A point read's predecessor (format 2 links by 8 bytes; the text needs all 32): cached too.
  const buf = s.reader.readFrameBytes(loc.segment, loc.offset, loc.length);
  const h = readEventFrame(buf, 0, loc.length);
  if (typeof h === "string") throw corrupt(loc.segment, loc.offset, h);
  return buf.subarray(h.hashAt, h.hashAt + HASH_BYTES);
}

/**
 * What decoding a read's frames needs of the store, gathered once per read
 * rather than through the source's getters per event (reads 1.00–1.06×,
 * alternated in one process). The index and the lifecycle state of a store
 * never change identity (the redaction map changes in place), so a read
 * still sees every redaction made while it runs.
 */
class FrameRead {
  readonly index: Index;
  readonly redactions: ReadonlyMap<number, string>;
  readonly decoder: PayloadDecoder;

  constructor(
    readonly s: EventSource,
    readonly text: EventText,
    readonly done: (e: StoredEvent, schema: number) => void,
  ) {
    this.index = s.index;
    this.redactions = s.lifecycle.redacted;
    this.decoder = s.decoder;
  }
}

/**
 * Decode the event frame at `buf[at .. at+length)`, which the index says
 * holds global sequence `g` (with its event id) and lives at
 * `segment`/`offset`, and queue it in the store's {@linkcode EventText}
 * (its texts are made at the next flush). Fails closed when the frame is
 * not that event, or its link to its predecessor is not the predecessor's
 * hash.
 */
function decodeFrame(
  f: FrameRead,
  g: number,
  buf: Uint8Array,
  at: number,
  length: number,
  segment: number,
  offset: number,
  crc?: number,
): void {
  const text = f.text;
  const h = readEventFrame(buf, at, length, text.header, crc);
  if (typeof h === "string") throw corrupt(segment, offset, h);
  const index = f.index;
  const i = g - 1;
  const page = index.loadedPages[i >>> PAGE_BITS] ?? index.page(i >>> PAGE_BITS);
  const r = i & PAGE_MASK;
  if (h.globalSequence !== g || !sameId(buf, h.bodyAt, page.id, r * 4)) {
    throw corrupt(
      segment,
      offset,
      h.globalSequence !== g
        ? `frame holds global sequence ${h.globalSequence}, index says ${g}`
        : `frame holds another event than the index says (a replaced segment?)`,
    );
  }
  let payload: unknown;
  const redactions = f.redactions;
  const redacted = h.erased || (redactions.size > 0 && redactions.has(g));
  if (!redacted) {
    try {
      payload = f.decoder.decode(buf, h.payloadAt, h.payloadEnd);
    } catch (e) {
      if (!(e instanceof PayloadDecodeError)) throw e;
      throw corrupt(segment, offset, `payload does not decode: ${e.message}`);
    }
  }
  const entity = page.ent[r];
  const sequence = h.sequence;
  const hasLink = h.prevHashAt >= 0 || h.prevLinkAt >= 0;
  // Sequence n is at position n - 1 of the entity's postings: its predecessor is one before.
  const prevG = sequence > 1 ? index.entities.postings[entity].items[sequence - 2] : 0;
  if (hasLink !== prevG > 0) {
    throw corrupt(
      segment,
      offset,
      hasLink ? "the entity's first event links to a predecessor" : "the event lacks its link",
    );
  }
  const entityName = index.entities.names[entity];
  const scope = index.scopes.names[page.scp[r]];
  if (text.texts) {
    // Same fields in the same order everywhere, so every read path has one shape.
    const event: StoredEvent = {
      eventId: UNSET,
      entity: entityName,
      scope,
      kind: h.kind as EventKind,
      sequence,
      globalSequence: g,
      timestampMs: h.timestampMs,
      payload,
      prevHash: UNSET,
      eventHash: UNSET,
    };
    if (redacted) event.redacted = true;
    if (!text.add(event, entity, g, prevG, buf, h, f.s)) {
      throw brokenChain(segment, offset, entityName);
    }
  } else {
    // A replay: no texts to make, so no queue; the event is handed over now.
    if (!text.chain(entity, g, prevG, buf, h, f.s)) {
      throw brokenChain(segment, offset, entityName);
    }
    const event = replayed(
      entityName,
      scope,
      h.kind as EventKind,
      sequence,
      g,
      h.timestampMs,
      payload,
    );
    if (redacted) event.redacted = true;
    f.done(event, h.schemaVersion);
  }
}

function brokenChain(segment: number, offset: number, entity: string): CorruptSegmentError {
  return corrupt(
    segment,
    offset,
    `hash chain broken: the event's link is not the hash of ${entity}'s event before it`,
  );
}

/**
 * A replay's event (see {@linkcode EventText.texts}), typed as the queue's
 * `StoredEvent`: its text fields are absent, and only
 * {@linkcode replayEvents} hands it out, as a {@linkcode ReplayedEvent}.
 */
function replayed(
  entity: string,
  scope: string,
  kind: EventKind,
  sequence: number,
  globalSequence: number,
  timestampMs: number,
  payload: unknown,
): StoredEvent {
  const event: ReplayedEvent = {
    entity,
    scope,
    kind,
    sequence,
    globalSequence,
    timestampMs,
    payload,
  };
  return event as StoredEvent;
}

/** Finish a queued event: upcast it when its kind asks, then hand it over. */
function finish(s: EventSource, visit: EventVisitor): (e: StoredEvent, schema: number) => void {
  return (event, schema) => {
    if (s.kinds !== undefined || schema > 1) upcastEvent(s.kinds, event, schema);
    visit(event);
  };
}

/** True when the 16 id bytes at `buf[at]` are the four words at `words[w]`. */
function sameId(buf: Uint8Array, at: number, words: Uint32Array, w: number): boolean {
  for (let k = 0; k < 4; k++) {
    const o = at + k * 4;
    const v = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
    if (v !== words[w + k]) return false;
  }
  return true;
}

/** `decodeFrame`'s hand-over where the text scratch queues every event (it has texts). */
const NO_HAND_OVER = () => {};

/** Read the single event `g`. */
export function readOne(s: EventSource, g: number): StoredEvent {
  if (s.closed) throw new StoreClosedError();
  const i = g - 1;
  const page = s.index.page(i >>> PAGE_BITS);
  const r = i & PAGE_MASK;
  const segment = page.seg[r];
  const offset = page.off[r];
  const length = page.len[r];
  const buf = s.reader.readFrameBytes(segment, offset, length);
  let out: StoredEvent | undefined;
  try {
    decodeFrame(new FrameRead(s, s.text, NO_HAND_OVER), g, buf, 0, length, segment, offset);
  } catch (e) {
    s.text.discard();
    throw e;
  }
  s.text.flush(finish(s, (e) => (out = e)));
  return out!;
}

/**
 * Visit the events `gs[start .. end)` (ascending global sequences) in order.
 * Neighbouring frames are read together; a run never mixes bytes still in
 * the writer's buffer with bytes already in the file.
 */
export function forEachEvent(
  s: EventSource,
  gs: ArrayLike<number>,
  start: number,
  end: number,
  visit: EventVisitor,
): void {
  forEachDecoded(s, gs, start, end, s.text, finish(s, visit));
}

/**
 * {@linkcode forEachEvent} by the text scratch `text`, handing each decoded
 * event to `done` with its stored schema version (0: none): upcasting it
 * (`upcastEvent`) is `done`'s to do. A replay's way in, with its
 * text-less scratch.
 */
export function forEachDecoded(
  s: EventSource,
  gs: ArrayLike<number>,
  start: number,
  end: number,
  text: EventText,
  done: (e: StoredEvent, schema: number) => void,
): void {
  if (start >= end) return;
  if (s.closed) throw new StoreClosedError();
  // A visitor that reads the store (or threw out of an earlier read) left nothing queued.
  if (text.pending > 0) text.discard();
  const scratch = text.crcScratch();
  try {
    eachRun(s, gs, start, end, scratch, new FrameRead(s, text, done));
  } finally {
    text.releaseCrcScratch(scratch);
  }
}

/** The runs of {@linkcode forEachEvent}: read each, check its frames' CRCs by group, decode. */
function eachRun(
  s: EventSource,
  gs: ArrayLike<number>,
  start: number,
  end: number,
  scratch: CrcScratch,
  f: FrameRead,
): void {
  const { text, done } = f;
  const index = f.index;
  // A page not read yet (an image read as it is used) is read by `index.page`.
  const pages = index.loadedPages;
  const reader = s.reader;
  const writer = s.end;
  const { bounds, crcs } = scratch;
  let k = start;
  while (k < end) {
    const first = gs[k] - 1;
    const p0 = pages[first >>> PAGE_BITS] ?? index.page(first >>> PAGE_BITS);
    const r0 = first & PAGE_MASK;
    const segment = p0.seg[r0];
    const runStart = p0.off[r0];
    const buffered = segment === writer.segment && runStart >= writer.flushed;
    const splitAt = segment === writer.segment && !buffered ? writer.flushed : Infinity;
    let runEnd = runStart + p0.len[r0];
    let j = k + 1;
    while (j < end) {
      const i = gs[j] - 1;
      const p = pages[i >>> PAGE_BITS] ?? index.page(i >>> PAGE_BITS);
      const r = i & PAGE_MASK;
      const off = p.off[r];
      const frameEnd = off + p.len[r];
      if (
        p.seg[r] !== segment || off < runEnd || off - runEnd > READ_GAP_BYTES_MAX ||
        frameEnd - runStart > READ_CHUNK_BYTES || frameEnd > splitAt
      ) break;
      runEnd = frameEnd;
      j++;
    }
    const buf = reader.readRaw(segment, runStart, runEnd - runStart);
    let grouped = k;
    for (; k < j; k++) {
      const g = gs[k];
      const i = g - 1;
      const p = pages[i >>> PAGE_BITS] ?? index.page(i >>> PAGE_BITS);
      const r = i & PAGE_MASK;
      const off = p.off[r];
      if (k === grouped) grouped = crcGroup(s, gs, k, j, runStart, buf.length, bounds, buf, crcs);
      try {
        decodeFrame(f, g, buf, off - runStart, p.len[r], segment, off, crcs[k & CRC_GROUP_MASK]);
      } catch (e) {
        // The events before the bad one are good: hand them over, then fail.
        text.flush(done);
        throw e;
      }
      if (!text.room) text.flush(done);
    }
  }
  text.flush(done);
}

const CRC_GROUP_MASK = CRC_GROUP_FRAMES - 1;

/**
 * CRCs of the frames of `gs[k .. min(j, next group boundary))` in `buf` (a
 * run read from `runStart`), into `crcs` at `k & CRC_GROUP_MASK`; returns
 * where the next group starts. A frame the index places past the run's end
 * gets no CRC computed here: its check fails on its length first.
 */
function crcGroup(
  s: EventSource,
  gs: ArrayLike<number>,
  k: number,
  j: number,
  runStart: number,
  runLength: number,
  bounds: Int32Array,
  buf: Uint8Array,
  crcs: Uint32Array,
): number {
  const index = s.index;
  const pages = index.loadedPages;
  const first = k & CRC_GROUP_MASK;
  const to = Math.min(j, k - first + CRC_GROUP_FRAMES);
  for (let q = k, w = 0; q < to; q++, w += 2) {
    const i = gs[q] - 1;
    const p = pages[i >>> PAGE_BITS] ?? index.page(i >>> PAGE_BITS);
    const r = i & PAGE_MASK;
    const at = p.off[r] - runStart;
    // Whole frames only (a shorter one fails its length check before its CRC is looked at).
    const end = Math.min(at + p.len[r], runLength);
    bounds[w] = Math.min(at + 4, end);
    bounds[w + 1] = end;
  }
  crc32Ranges(buf, bounds, to - k, crcs.subarray(first));
  return to;
}

/** The events `gs[start .. end)` as an array. */
export function readEvents(
  s: EventSource,
  gs: ArrayLike<number>,
  start = 0,
  end: number = gs.length,
): StoredEvent[] {
  const out: StoredEvent[] = [];
  forEachEvent(s, gs, start, end, (e) => out.push(e));
  return out;
}

/**
 * Up to `maxEvents` events of `gs` from `start`, stopping early once their
 * frames reach `maxBytes` (always at least one event): a page whose memory
 * is bounded whatever the payload sizes. If any event of the page cannot be
 * read, the page is just the first event (or that event's error), so a
 * damaged frame never holds back the good ones before it.
 */
export function readPage(
  s: EventSource,
  gs: ArrayLike<number>,
  start: number,
  maxEvents: number,
  maxBytes: number,
): StoredEvent[] {
  if (start >= gs.length) return [];
  const index = s.index;
  const stop = Math.min(gs.length, start + maxEvents);
  let end = start;
  let bytes = 0;
  while (end < stop && (end === start || bytes < maxBytes)) {
    const i = gs[end] - 1;
    bytes += index.page(i >>> PAGE_BITS).len[i & PAGE_MASK];
    end++;
  }
  try {
    return readEvents(s, gs, start, end);
  } catch (e) {
    if (end - start === 1) throw e;
    return [readOne(s, gs[start])];
  }
}
