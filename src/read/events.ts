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

import { CorruptSegmentError, InternalError, StoreClosedError } from "../core/errors.ts";
import { HASH_BYTES } from "../core/hash.ts";
import type { EventId } from "../core/ids.ts";
import type { EventKind } from "../core/kind.ts";
import { PayloadDecodeError, type PayloadDecoder } from "../core/payload.ts";
import type { LifecycleState } from "../core/lifecycle.ts";
import type { StoredEvent } from "../core/types.ts";
import { type Index, PAGE_BITS, PAGE_ROWS } from "../index/index.ts";
import { type EventHeader, ID_BYTES, newHeader, PREV_LINK_BYTES } from "../log/event_codec.ts";
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
const ID_TEXT_CHARS = 36;
const HASH_TEXT_CHARS = 64;
const TEXT_CHARS = ID_TEXT_CHARS + 2 * HASH_TEXT_CHARS;
const DASH = 0x2d;
const HEX_CODES = new TextEncoder().encode("0123456789abcdef");
/** Both hex digits of a byte, as one little-endian u16 of two ASCII codes. */
const HEX_PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) HEX_PAIRS[b] = HEX_CODES[b >>> 4] | (HEX_CODES[b & 15] << 8);
// Hash texts by entity: reading an entity's events in order, each event's prevHash is the
// previous event's eventHash, so its text is reused instead of rebuilt (and, in format 2,
// found without reading the previous frame). A direct-mapped table (slot = entity id mod
// size) keeps this O(1) and bounded; the bytes are compared before reuse, so a slot shared by
// two entities is only a miss.
const HASH_CACHE_SLOTS = 1024;

/**
 * The text forms of one store's ids and hashes: the id and both hashes of
 * an event are written as ASCII into one scratch buffer and made into a
 * string by one native call; the three fields are slices of it.
 * Concatenating hex digits instead builds ropes: dozens of short-lived
 * objects per event, which showed as a third of a replay's time plus
 * garbage collection. Each store has its own (no state shared between
 * stores).
 */
export class EventText {
  readonly #text = new Uint8Array(TEXT_CHARS);
  readonly #pairs = new Uint16Array(this.#text.buffer, 0, TEXT_CHARS / 2);
  // UTF-8 decoding of ASCII bytes has a fast path (a latin1 decoder measured 3x slower).
  readonly #ascii = new TextDecoder();
  readonly #cachedEntity = new Int32Array(HASH_CACHE_SLOTS).fill(-1);
  readonly #cachedBytes = new Uint8Array(HASH_CACHE_SLOTS * HASH_BYTES);
  readonly #cachedText: string[] = new Array(HASH_CACHE_SLOTS).fill("");

  #writeId(buf: Uint8Array, at: number): void {
    const into = this.#text;
    let w = 0;
    for (let i = 0; i < ID_BYTES; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) into[w++] = DASH;
      const b = buf[at + i];
      into[w++] = HEX_CODES[b >>> 4];
      into[w++] = HEX_CODES[b & 15];
    }
  }

  #writeHash(buf: Uint8Array, at: number, pairAt: number): void {
    const pairs = this.#pairs;
    for (let i = 0; i < HASH_BYTES; i++) pairs[pairAt + i] = HEX_PAIRS[buf[at + i]];
  }

  /** The canonical UUID text of the 16 id bytes at `buf[at]`. */
  id(buf: Uint8Array, at: number): EventId {
    this.#writeId(buf, at);
    return this.#ascii.decode(this.#text.subarray(0, ID_TEXT_CHARS));
  }

  /** The id text of the event last passed to {@linkcode EventText.fill}. */
  eventId = "";
  /** Its event hash text. */
  eventHash = "";
  /** Its previous hash text ("" for an entity's first event). */
  prevHash = "";
  /** Scratch header the decoder fills per frame (no allocation per event). */
  readonly header: EventHeader = newHeader();

  /**
   * True when the previous hash of an event of `entity` whose leading
   * `linkBytes` bytes are at `buf[at ..]` is the entity's cached last hash
   * (a format-2 link can then be expanded without reading the previous frame).
   */
  knows(entity: number, buf: Uint8Array, at: number, linkBytes: number): boolean {
    return this.#cached(entity, buf, at, linkBytes) !== "";
  }

  /**
   * Set {@linkcode EventText.eventId}, {@linkcode EventText.eventHash} and
   * {@linkcode EventText.prevHash} for an event of entity `entity`. The
   * previous hash is at `prev[prevAt ..]` (`prevAt` < 0: none, the entity's
   * first event); with `linkBytes` < 32 only that many leading bytes are
   * there (a format-2 link) and the entity's cached last hash is used: call
   * {@linkcode EventText.knows} first and pass the whole hash when it does not.
   */
  fill(
    entity: number,
    buf: Uint8Array,
    idAt: number,
    hashAt: number,
    prev: Uint8Array,
    prevAt: number,
    linkBytes: number,
  ): void {
    let prevHash = prevAt >= 0 ? this.#cached(entity, prev, prevAt, linkBytes) : "";
    this.#writeId(buf, idAt);
    this.#writeHash(buf, hashAt, ID_TEXT_CHARS / 2);
    let chars = ID_TEXT_CHARS + HASH_TEXT_CHARS;
    if (prevAt >= 0 && prevHash === "") {
      if (linkBytes < HASH_BYTES) {
        throw new InternalError("EventText.fill: an unknown link needs the whole hash");
      }
      this.#writeHash(prev, prevAt, chars / 2);
      chars = TEXT_CHARS;
    }
    const all = this.#ascii.decode(this.#text.subarray(0, chars));
    const eventHash = all.slice(ID_TEXT_CHARS, ID_TEXT_CHARS + HASH_TEXT_CHARS);
    if (chars === TEXT_CHARS) prevHash = all.slice(ID_TEXT_CHARS + HASH_TEXT_CHARS);
    this.#cache(entity, buf, hashAt, eventHash);
    this.eventId = all.slice(0, ID_TEXT_CHARS);
    this.eventHash = eventHash;
    this.prevHash = prevHash;
  }

  #cached(entity: number, buf: Uint8Array, at: number, n: number): string {
    const slot = entity & (HASH_CACHE_SLOTS - 1);
    if (this.#cachedEntity[slot] !== entity) return "";
    const base = slot * HASH_BYTES;
    const bytes = this.#cachedBytes;
    for (let i = 0; i < n; i++) if (buf[at + i] !== bytes[base + i]) return "";
    return this.#cachedText[slot];
  }

  #cache(entity: number, buf: Uint8Array, at: number, hashText: string): void {
    const slot = entity & (HASH_CACHE_SLOTS - 1);
    const base = slot * HASH_BYTES;
    const bytes = this.#cachedBytes;
    for (let i = 0; i < HASH_BYTES; i++) bytes[base + i] = buf[at + i];
    this.#cachedEntity[slot] = entity;
    this.#cachedText[slot] = hashText;
  }
}

/** Receives one event. */
export type EventVisitor = (event: StoredEvent) => void;

function corrupt(segment: number, offset: number, message: string): CorruptSegmentError {
  return new CorruptSegmentError(segmentName(segment), offset, message);
}

/** The hash bytes of the event before `g` in its entity's stream, read back from the log. */
function previousHash(s: EventSource, g: number): Uint8Array {
  const index = s.index;
  const postings = index.entities.postings[index.entityOf(g)];
  const prevG = postings.items[postings.firstAfter(g - 1) - 1];
  const loc = index.location(prevG);
  const buf = s.reader.readRaw(loc.segment, loc.offset, loc.length);
  const h = readEventFrame(buf, 0, loc.length);
  if (typeof h === "string") throw corrupt(loc.segment, loc.offset, h);
  return buf.subarray(h.hashAt, h.hashAt + HASH_BYTES);
}

/**
 * Decode the event frame at `buf[at .. at+length)`, which the index says
 * holds global sequence `g` (with its event id) and lives at
 * `segment`/`offset`. Fails closed when the frame is not that event.
 */
function decodeFrame(
  s: EventSource,
  g: number,
  buf: Uint8Array,
  at: number,
  length: number,
  segment: number,
  offset: number,
): StoredEvent {
  const h = readEventFrame(buf, at, length, s.text.header);
  if (typeof h === "string") throw corrupt(segment, offset, h);
  const index = s.index;
  const i = g - 1;
  const page = index.pages[i >>> PAGE_BITS];
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
  const redactions = s.lifecycle.redacted;
  const redacted = h.erased || (redactions.size > 0 && redactions.has(g));
  if (!redacted) {
    try {
      payload = s.decoder.decode(buf, h.payloadAt, h.payloadEnd);
    } catch (e) {
      if (!(e instanceof PayloadDecodeError)) throw e;
      throw corrupt(segment, offset, `payload does not decode: ${e.message}`);
    }
  }
  const entity = page.ent[r];
  const text = s.text;
  let prev = buf;
  let prevAt = h.prevHashAt >= 0 ? h.prevHashAt : h.prevLinkAt;
  let linkBytes = h.prevHashAt >= 0 ? HASH_BYTES : PREV_LINK_BYTES;
  if (prevAt >= 0 && linkBytes < HASH_BYTES && !text.knows(entity, buf, prevAt, linkBytes)) {
    prev = previousHash(s, g);
    prevAt = 0;
    linkBytes = HASH_BYTES;
  }
  text.fill(entity, buf, h.bodyAt, h.hashAt, prev, prevAt, linkBytes);
  // Same fields in the same order everywhere, so every read path has one shape.
  const event: StoredEvent = {
    eventId: text.eventId,
    entity: index.entities.names[entity],
    scope: index.scopes.names[page.scp[r]],
    kind: h.kind as EventKind,
    sequence: h.sequence,
    globalSequence: g,
    timestampMs: h.timestampMs,
    payload,
    prevHash: text.prevHash,
    eventHash: text.eventHash,
  };
  if (h.correlationAt >= 0) event.correlationId = s.text.id(buf, h.correlationAt);
  if (h.causationAt >= 0) event.causationId = s.text.id(buf, h.causationAt);
  if (redacted) event.redacted = true;
  if (s.kinds !== undefined || h.schemaVersion > 1) upcastEvent(s.kinds, event, h.schemaVersion);
  return event;
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

/** Read the single event `g`. */
export function readOne(s: EventSource, g: number): StoredEvent {
  if (s.closed) throw new StoreClosedError();
  const i = g - 1;
  const page = s.index.pages[i >>> PAGE_BITS];
  const r = i & PAGE_MASK;
  const segment = page.seg[r];
  const offset = page.off[r];
  const length = page.len[r];
  const buf = s.reader.readRaw(segment, offset, length);
  return decodeFrame(s, g, buf, 0, length, segment, offset);
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
  if (start >= end) return;
  if (s.closed) throw new StoreClosedError();
  const pages = s.index.pages;
  const reader = s.reader;
  const writer = s.end;
  let k = start;
  while (k < end) {
    const first = gs[k] - 1;
    const p0 = pages[first >>> PAGE_BITS];
    const r0 = first & PAGE_MASK;
    const segment = p0.seg[r0];
    const runStart = p0.off[r0];
    const buffered = segment === writer.segment && runStart >= writer.flushed;
    const splitAt = segment === writer.segment && !buffered ? writer.flushed : Infinity;
    let runEnd = runStart + p0.len[r0];
    let j = k + 1;
    while (j < end) {
      const i = gs[j] - 1;
      const p = pages[i >>> PAGE_BITS];
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
    for (; k < j; k++) {
      const g = gs[k];
      const i = g - 1;
      const p = pages[i >>> PAGE_BITS];
      const r = i & PAGE_MASK;
      const off = p.off[r];
      visit(decodeFrame(s, g, buf, off - runStart, p.len[r], segment, off));
    }
  }
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
  const pages = s.index.pages;
  const stop = Math.min(gs.length, start + maxEvents);
  let end = start;
  let bytes = 0;
  while (end < stop && (end === start || bytes < maxBytes)) {
    const i = gs[end] - 1;
    bytes += pages[i >>> PAGE_BITS].len[i & PAGE_MASK];
    end++;
  }
  try {
    return readEvents(s, gs, start, end);
  } catch (e) {
    if (end - start === 1) throw e;
    return [readOne(s, gs[start])];
  }
}
