/**
 * The one frame reader: every path that gets frames back from bytes —
 * recovery, reads, verify, the follower — goes through these functions, so
 * a frame means the same thing everywhere.
 *
 * @module
 */

import { crc32Range } from "../core/crc32.ts";
import { type EventHeader, readEventHeader } from "./event_codec.ts";
import {
  decodeMarker,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC_0,
  FRAME_MAGIC_1,
  isEventFrame,
  parseFrame,
} from "./frame.ts";

/**
 * The event frame of `length` bytes at `buf[at]`, checked (magic, length,
 * CRC, kind, the event header's field layout), or why it is not one.
 * `crc`, when given, is the CRC-32 of `buf[at + 4 .. at + length)` computed
 * already (a batch of frames at once: `crc32Ranges`); it is compared with the
 * frame's own as a CRC computed here would be.
 */
export function readEventFrame(
  buf: Uint8Array,
  at: number,
  length: number,
  into?: EventHeader,
  crc?: number,
): EventHeader | string {
  const fault = checkFrame(buf, at, length, crc);
  if (fault !== undefined) return fault;
  return readEventHeader(
    buf,
    at + FRAME_HEADER_BYTES,
    length - FRAME_HEADER_BYTES,
    buf[at + 8],
    into,
  );
}

/**
 * Why the frame of `length` bytes at `buf[at]` is not a whole event frame
 * (magic, declared length, kind, CRC), or `undefined` when it is: the
 * checks of `parseFrame` without building a frame object.
 */
function checkFrame(
  buf: Uint8Array,
  at: number,
  length: number,
  computed: number | undefined,
): string | undefined {
  if (length < FRAME_HEADER_BYTES || at + length > buf.length) {
    return "frame check failed: short_body";
  }
  if (buf[at + 10] !== FRAME_MAGIC_0 || buf[at + 11] !== FRAME_MAGIC_1) {
    return "frame check failed: bad_magic";
  }
  const kind = buf[at + 8];
  const bodyLength =
    (buf[at + 4] | (buf[at + 5] << 8) | (buf[at + 6] << 16) | (buf[at + 7] << 24)) >>>
    0;
  if (!isEventFrame(kind) || bodyLength + FRAME_HEADER_BYTES !== length) {
    return `expected an event frame of ${length} bytes, found a frame of kind ${kind} and ` +
      `${FRAME_HEADER_BYTES + bodyLength} bytes`;
  }
  const crc = (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
  if ((computed ?? crc32Range(buf, at + 4, at + length)) !== crc) {
    return "frame check failed: bad_crc";
  }
  return undefined;
}

/** Offset of the next valid frame in `buf[from .. end)`, or -1 (verify resynchronises here). */
export function nextValidFrame(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + FRAME_HEADER_BYTES <= end; i++) {
    if (buf[i + 10] !== FRAME_MAGIC_0 || buf[i + 11] !== FRAME_MAGIC_1) continue;
    if (typeof parseFrame(buf, i, end) !== "string") return i;
  }
  return -1;
}

/**
 * Offset of a valid frame starting in `buf[from .. end)` that could continue
 * a log whose next global sequence is `nextGlobal` — an event at or past it,
 * or a batch marker starting at or past it — or -1. A frame may run past
 * `end` up to `frameEnd` (default `end`): a scan that trimmed the trailing
 * zeros of preallocation to find `end` must not cut off a whole frame whose
 * last bytes happen to be zero (one event hash in 256 ends in a zero byte).
 *
 * This is what tells a torn tail from damage: after a write cut short by a
 * crash nothing of the log can follow, but a payload may legitimately hold
 * bytes that parse as frames (a copy of another log, say). Those frames
 * carry global sequences the log has already passed, so they are not taken
 * for evidence that the log goes on.
 */
export function continuationAfter(
  buf: Uint8Array,
  from: number,
  end: number,
  nextGlobal: number,
  frameEnd: number = end,
): number {
  for (let i = from; i < end && i + FRAME_HEADER_BYTES <= frameEnd; i++) {
    if (buf[i + 10] !== FRAME_MAGIC_0 || buf[i + 11] !== FRAME_MAGIC_1) continue;
    const frame = parseFrame(buf, i, frameEnd);
    if (typeof frame === "string") continue;
    if (isEventFrame(frame.kind)) {
      const h = readEventHeader(buf, frame.bodyAt, frame.bodyLength, frame.kind);
      if (typeof h !== "string" && h.globalSequence >= nextGlobal) return i;
    } else {
      const marker = decodeMarker(buf, frame.bodyAt, frame.bodyLength);
      if (marker && marker.firstGlobalSequence >= nextGlobal) return i;
    }
  }
  return -1;
}
