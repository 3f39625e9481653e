/**
 * The frame: the unit of the log.
 *
 * ```
 * offset size field
 * 0      4    crc32 (zlib's polynomial) of bytes 4 .. 12+length, little-endian
 * 4      4    length of the body in bytes, little-endian
 * 8      1    frame kind (1 event, 2 batch begin, 3 batch commit, 4 event in format 2)
 * 9      1    flags (bit 0: part of a batch)
 * 10     2    magic 0xB7 0xF1 (finds frame starts when classifying damage)
 * 12     n    body
 * ```
 *
 * @module
 */

import { crc32Range } from "../core/crc32.ts";
import { crc32Ranges } from "../core/crc32_ranges.ts";
import { FRAME_BODY_BYTES_MAX } from "../core/limits.ts";

export { FRAME_BODY_BYTES_MAX };
/** Bytes of the fixed frame header. */
export const FRAME_HEADER_BYTES = 12;
/** Bytes of a batch marker's body: item count and first global sequence, u32 each. */
export const MARKER_BODY_BYTES = 8;
/** Bytes of a whole batch marker frame. */
export const MARKER_FRAME_BYTES = FRAME_HEADER_BYTES + MARKER_BODY_BYTES;

/** Frame kinds. */
export const FrameKind = {
  /** An event in format 1 (written before 0.2; still read). */
  Event: 1,
  BatchBegin: 2,
  BatchCommit: 3,
  /** An event in format 2 (compact; its hash covers a hash of the payload). */
  Event2: 4,
} as const;

/** True for a frame that holds an event (either format). */
export function isEventFrame(kind: number): boolean {
  return kind === FrameKind.Event || kind === FrameKind.Event2;
}

/** Frame flag: the event is inside a BEGIN/COMMIT batch. */
export const FLAG_IN_BATCH = 1;

/** First byte of the frame magic (at offset 10 of every frame header). */
export const FRAME_MAGIC_0 = 0xb7;
/** Second byte of the frame magic (offset 11). */
export const FRAME_MAGIC_1 = 0xf1;

/** Write a frame header for `body` (already at `buf[at+12 ..]`) into `buf` at `at`. */
export function sealFrame(
  buf: Uint8Array,
  at: number,
  bodyLength: number,
  kind: number,
  flags: number,
): void {
  buf[at + 4] = bodyLength & 255;
  buf[at + 5] = (bodyLength >>> 8) & 255;
  buf[at + 6] = (bodyLength >>> 16) & 255;
  buf[at + 7] = bodyLength >>> 24;
  buf[at + 8] = kind;
  buf[at + 9] = flags;
  buf[at + 10] = FRAME_MAGIC_0;
  buf[at + 11] = FRAME_MAGIC_1;
  const crc = crc32Range(buf, at + 4, at + FRAME_HEADER_BYTES + bodyLength);
  buf[at] = crc & 255;
  buf[at + 1] = (crc >>> 8) & 255;
  buf[at + 2] = (crc >>> 16) & 255;
  buf[at + 3] = crc >>> 24;
}

/** A frame found in a buffer. */
export interface ParsedFrame {
  /** Frame kind. */
  kind: number;
  /** Flags. */
  flags: number;
  /** Offset of the body within the buffer. */
  bodyAt: number;
  /** Body length. */
  bodyLength: number;
  /** Whole frame length (header + body). */
  frameLength: number;
  /** The stored CRC. */
  crc: number;
}

/** Why a frame could not be parsed. */
export type FrameFault =
  | "short_header"
  | "bad_magic"
  | "bad_length"
  | "short_body"
  | "bad_crc"
  | "bad_kind";

function u32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** Read the little-endian CRC field of the frame at `at`. */
export function frameCrcAt(buf: Uint8Array, at: number): number {
  return u32(buf, at);
}

/** Frames whose CRCs {@linkcode FrameCrcs} computes in one call. */
const FRAMES_AHEAD = 256;

/**
 * CRCs of frames that follow one another in a buffer, computed ahead in
 * groups (one `crc32Ranges` call per {@linkcode FRAMES_AHEAD} frames) for a
 * scan that parses them in order: the scan asks {@linkcode crcOf} for each
 * frame, and gets the CRC of `[at + 4, at + frameLength)` — what
 * {@linkcode parseFrame} would compute — or `undefined` (compute it there)
 * when the frame is not the next one the group walked to. The walk reads
 * only headers and stops at the first that does not describe a whole frame
 * inside `end`; nothing is trusted from it: the scan still checks each frame
 * and compares its CRC.
 */
export class FrameCrcs {
  readonly #bounds = new Int32Array(2 * FRAMES_AHEAD);
  readonly #crcs = new Uint32Array(FRAMES_AHEAD);
  #buf: Uint8Array | undefined;
  #end = 0;
  #n = 0;
  #next = 0;

  /** The CRC of the frame at `buf[at]` (its extent up to `end`), or undefined. */
  crcOf(buf: Uint8Array, at: number, end: number): number | undefined {
    const b = this.#bounds;
    if (
      buf !== this.#buf || end !== this.#end || this.#next >= this.#n ||
      b[2 * this.#next] !== at + 4
    ) {
      this.#walk(buf, at, end);
      if (this.#n === 0) return undefined;
    }
    return this.#crcs[this.#next++];
  }

  #walk(buf: Uint8Array, at: number, end: number): void {
    const b = this.#bounds;
    let n = 0;
    while (n < FRAMES_AHEAD && end - at >= FRAME_HEADER_BYTES) {
      if (buf[at + 10] !== FRAME_MAGIC_0 || buf[at + 11] !== FRAME_MAGIC_1) break;
      const bodyLength = u32(buf, at + 4);
      if (bodyLength > FRAME_BODY_BYTES_MAX || end - at < FRAME_HEADER_BYTES + bodyLength) break;
      b[2 * n] = at + 4;
      at += FRAME_HEADER_BYTES + bodyLength;
      b[2 * n + 1] = at;
      n++;
    }
    crc32Ranges(buf, b, n, this.#crcs);
    this.#buf = buf;
    this.#end = end;
    this.#n = n;
    this.#next = 0;
  }
}

/**
 * Parse the frame at `buf[at]`, checking magic, length bound, kind and CRC.
 * Returns the frame or the reason it is not one. Never throws, never
 * allocates in proportion to a declared length. A scan parsing many frames
 * in a row passes one {@linkcode FrameCrcs} for their CRCs.
 */
export function parseFrame(
  buf: Uint8Array,
  at: number,
  end: number = buf.length,
  ahead?: FrameCrcs,
): ParsedFrame | FrameFault {
  if (end - at < FRAME_HEADER_BYTES) return "short_header";
  if (buf[at + 10] !== FRAME_MAGIC_0 || buf[at + 11] !== FRAME_MAGIC_1) return "bad_magic";
  const bodyLength = u32(buf, at + 4);
  if (bodyLength > FRAME_BODY_BYTES_MAX) return "bad_length";
  const kind = buf[at + 8];
  if (kind < FrameKind.Event || kind > FrameKind.Event2) return "bad_kind";
  const frameLength = FRAME_HEADER_BYTES + bodyLength;
  if (end - at < frameLength) return "short_body";
  const crc = u32(buf, at);
  const computed = ahead?.crcOf(buf, at, end) ?? crc32Range(buf, at + 4, at + frameLength);
  if (computed !== crc) return "bad_crc";
  return {
    kind,
    flags: buf[at + 9],
    bodyAt: at + FRAME_HEADER_BYTES,
    bodyLength,
    frameLength,
    crc,
  };
}

/** Write a whole batch marker frame (`kind` BEGIN or COMMIT) into `buf` at `at`; returns its CRC. */
export function writeMarker(
  buf: Uint8Array,
  at: number,
  kind: number,
  count: number,
  firstGlobalSequence: number,
): number {
  const body = at + FRAME_HEADER_BYTES;
  putU32(buf, body, count);
  putU32(buf, body + 4, firstGlobalSequence);
  sealFrame(buf, at, MARKER_BODY_BYTES, kind, 0);
  return frameCrcAt(buf, at);
}

function putU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 255;
  buf[at + 1] = (v >>> 8) & 255;
  buf[at + 2] = (v >>> 16) & 255;
  buf[at + 3] = v >>> 24;
}

/** True when `buf[at ..]` starts with a frame header whose magic, kind and length are plausible. */
export function plausibleHeader(buf: Uint8Array, at: number, end: number): boolean {
  if (end - at < FRAME_HEADER_BYTES) return false;
  if (buf[at + 10] !== FRAME_MAGIC_0 || buf[at + 11] !== FRAME_MAGIC_1) return false;
  const kind = buf[at + 8];
  return kind >= FrameKind.Event && kind <= FrameKind.Event2 &&
    u32(buf, at + 4) <= FRAME_BODY_BYTES_MAX;
}

/** Decode a batch marker body. */
export function decodeMarker(
  buf: Uint8Array,
  at: number,
  length: number,
): { count: number; firstGlobalSequence: number } | undefined {
  if (length !== MARKER_BODY_BYTES) return undefined;
  return { count: u32(buf, at), firstGlobalSequence: u32(buf, at + 4) };
}
