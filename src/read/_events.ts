/**
 * Reading many events at once. Events that sit close together in one segment
 * are fetched with one read of up to {@linkcode READ_CHUNK_BYTES} instead of
 * one read per frame; every frame is still CRC-checked and must hold the
 * global sequence the index says it holds. The events come out as plain
 * objects shaped exactly like `Store.get` returns.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { FRAME_HEADER_BYTES, FrameKind, parseFrame } from "../log/frame.ts";
import { readEventHeader } from "../log/event_codec.ts";
import { segmentName } from "../log/segment.ts";
import { PAGE_BITS, PAGE_ROWS } from "../index/index.ts";
import { CorruptSegmentError, StoreClosedError } from "../core/errors.ts";
import type { EventId } from "../core/ids.ts";
import type { EventKind } from "../core/kind.ts";
import type { StoreInternals } from "../store/store.ts";
import type { StoredEvent } from "../core/types.ts";
import { decodePayloadAt } from "./_payload.ts";

/** Largest single read when fetching a run of neighbouring frames, bytes. */
export const READ_CHUNK_BYTES = 1 << 20;
/** Unwanted bytes between two wanted frames that are still read through rather than skipped. */
export const READ_GAP_BYTES_MAX = 16 * 1024;

const PAGE_MASK = PAGE_ROWS - 1;
const HASH_BYTES = 32;
const ID_BYTES = 16;
const ID_TEXT_CHARS = 36;
const HASH_TEXT_CHARS = 64;
const TEXT_CHARS = ID_TEXT_CHARS + 2 * HASH_TEXT_CHARS;
const DASH = 0x2d;
const HEX_CODES = new TextEncoder().encode("0123456789abcdef");
/** Both hex digits of a byte, as one little-endian u16 of two ASCII codes. */
const HEX_PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) HEX_PAIRS[b] = HEX_CODES[b >>> 4] | (HEX_CODES[b & 15] << 8);

// The id and both hashes of an event are written as ASCII into one scratch buffer and made
// into a string by one native call; the three fields are slices of it. Concatenating hex
// digits instead builds ropes: dozens of short-lived objects per event, which showed as a
// third of a replay's time plus garbage collection.
const text = Buffer.alloc(TEXT_CHARS);
const textPairs = new Uint16Array(text.buffer, text.byteOffset, TEXT_CHARS / 2);

function writeId(buf: Uint8Array, at: number, into: Uint8Array): void {
  let w = 0;
  for (let i = 0; i < ID_BYTES; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) into[w++] = DASH;
    const b = buf[at + i];
    into[w++] = HEX_CODES[b >>> 4];
    into[w++] = HEX_CODES[b & 15];
  }
}

function writeHash(buf: Uint8Array, at: number, pairAt: number): void {
  for (let i = 0; i < HASH_BYTES; i++) textPairs[pairAt + i] = HEX_PAIRS[buf[at + i]];
}

// Hash texts by entity: reading an entity's events in order, each event's prevHash is the
// previous event's eventHash, so its text is reused instead of rebuilt. A direct-mapped
// table (slot = entity id mod size) keeps this O(1) and bounded; the bytes are compared
// before reuse, so a slot shared by two entities (or two stores) is only a miss.
const HASH_CACHE_SLOTS = 1024;
const cachedEntity = new Int32Array(HASH_CACHE_SLOTS).fill(-1);
const cachedBytes = new Uint8Array(HASH_CACHE_SLOTS * HASH_BYTES);
const cachedText: string[] = new Array(HASH_CACHE_SLOTS).fill("");

/** The cached text of the hash at `buf[at]` for `entity`, or "" when not cached. */
function cachedHash(entity: number, buf: Uint8Array, at: number): string {
  const slot = entity & (HASH_CACHE_SLOTS - 1);
  if (cachedEntity[slot] !== entity) return "";
  const base = slot * HASH_BYTES;
  for (let i = 0; i < HASH_BYTES; i++) if (buf[at + i] !== cachedBytes[base + i]) return "";
  return cachedText[slot];
}

function cacheHash(entity: number, buf: Uint8Array, at: number, hashText: string): void {
  const slot = entity & (HASH_CACHE_SLOTS - 1);
  const base = slot * HASH_BYTES;
  for (let i = 0; i < HASH_BYTES; i++) cachedBytes[base + i] = buf[at + i];
  cachedEntity[slot] = entity;
  cachedText[slot] = hashText;
}

/** The canonical UUID text of the 16 id bytes at `buf[at]`. */
function idAt(buf: Uint8Array, at: number): EventId {
  writeId(buf, at, text);
  return text.toString("latin1", 0, ID_TEXT_CHARS);
}

/** Receives one event. */
export type EventVisitor = (event: StoredEvent) => void;

/**
 * Decode the event frame at `buf[at .. at+length)`, which the index says
 * holds global sequence `g` and lives at `segment`/`offset`.
 */
function decodeFrame(
  s: StoreInternals,
  g: number,
  buf: Uint8Array,
  at: number,
  length: number,
  segment: number,
  offset: number,
): StoredEvent {
  const frame = parseFrame(buf, at, at + length);
  if (typeof frame === "string") {
    throw new CorruptSegmentError(segmentName(segment), offset, `frame check failed: ${frame}`);
  }
  if (frame.kind !== FrameKind.Event || frame.frameLength !== length) {
    throw new CorruptSegmentError(
      segmentName(segment),
      offset,
      `the index points at a frame of kind ${frame.kind} and ${frame.frameLength} bytes, ` +
        `expected an event of ${length} bytes`,
    );
  }
  const h = readEventHeader(buf, at + FRAME_HEADER_BYTES, length - FRAME_HEADER_BYTES);
  if (typeof h === "string") throw new CorruptSegmentError(segmentName(segment), offset, h);
  if (h.globalSequence !== g) {
    throw new CorruptSegmentError(
      segmentName(segment),
      offset,
      `frame holds global sequence ${h.globalSequence}, index says ${g}`,
    );
  }
  let payload: unknown;
  try {
    payload = decodePayloadAt(buf, h.payloadAt, h.payloadEnd);
  } catch (e) {
    throw new CorruptSegmentError(
      segmentName(segment),
      offset,
      `payload does not decode: ${(e as Error).message}`,
    );
  }
  const index = s.index;
  const i = g - 1;
  const page = index.pages[i >>> PAGE_BITS];
  const r = i & PAGE_MASK;
  const entity = page.ent[r];
  writeId(buf, h.bodyAt, text);
  writeHash(buf, h.hashAt, ID_TEXT_CHARS / 2);
  let chars = ID_TEXT_CHARS + HASH_TEXT_CHARS;
  let prevHash = "";
  if (h.prevHashAt >= 0) {
    prevHash = cachedHash(entity, buf, h.prevHashAt);
    if (prevHash === "") {
      writeHash(buf, h.prevHashAt, chars / 2);
      chars = TEXT_CHARS;
    }
  }
  const all = text.toString("latin1", 0, chars);
  const eventHash = all.slice(ID_TEXT_CHARS, ID_TEXT_CHARS + HASH_TEXT_CHARS);
  if (chars === TEXT_CHARS) prevHash = all.slice(ID_TEXT_CHARS + HASH_TEXT_CHARS);
  cacheHash(entity, buf, h.hashAt, eventHash);
  // Same fields in the same order as Store.get, so both have one shape.
  const event: StoredEvent = {
    eventId: all.slice(0, ID_TEXT_CHARS),
    entity: index.entities.names[entity],
    scope: index.scopes.names[page.scp[r]],
    kind: h.kind as EventKind,
    sequence: h.sequence,
    globalSequence: g,
    timestampMs: h.timestampMs,
    payload,
    prevHash,
    eventHash,
  };
  if (h.correlationAt >= 0) event.correlationId = idAt(buf, h.correlationAt);
  if (h.causationAt >= 0) event.causationId = idAt(buf, h.causationAt);
  return event;
}

/** Read the single event `g`. */
export function readOne(s: StoreInternals, g: number): StoredEvent {
  if (s.isClosed()) throw new StoreClosedError();
  const i = g - 1;
  const page = s.index.pages[i >>> PAGE_BITS];
  const r = i & PAGE_MASK;
  const segment = page.seg[r];
  const offset = page.off[r];
  const length = page.len[r];
  const buf = s.reader().readRaw(segment, offset, length);
  return decodeFrame(s, g, buf, 0, length, segment, offset);
}

/**
 * Visit the events `gs[start .. end)` (ascending global sequences) in order.
 * Neighbouring frames are read together; a run never mixes bytes still in
 * the writer's buffer with bytes already in the file.
 */
export function forEachEvent(
  s: StoreInternals,
  gs: ArrayLike<number>,
  start: number,
  end: number,
  visit: EventVisitor,
): void {
  if (start >= end) return;
  if (s.isClosed()) throw new StoreClosedError();
  const pages = s.index.pages;
  const reader = s.reader();
  const writer = s.writer();
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
  s: StoreInternals,
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
  s: StoreInternals,
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
