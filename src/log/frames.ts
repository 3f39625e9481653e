/**
 * The one frame reader: every path that gets frames back from bytes —
 * recovery, reads, verify, the follower — goes through these functions, so
 * a frame means the same thing everywhere.
 *
 * @module
 */

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
 */
export function readEventFrame(
  buf: Uint8Array,
  at: number,
  length: number,
): EventHeader | string {
  const frame = parseFrame(buf, at, at + length);
  if (typeof frame === "string") return `frame check failed: ${frame}`;
  if (!isEventFrame(frame.kind) || frame.frameLength !== length) {
    return `expected an event frame of ${length} bytes, found a frame of kind ${frame.kind} ` +
      `and ${frame.frameLength} bytes`;
  }
  return readEventHeader(buf, frame.bodyAt, frame.bodyLength, frame.kind);
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
 * Offset of a valid frame in `buf[from .. end)` that could continue a log
 * whose next global sequence is `nextGlobal` — an event at or past it, or a
 * batch marker starting at or past it — or -1.
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
): number {
  for (let i = from; i + FRAME_HEADER_BYTES <= end; i++) {
    if (buf[i + 10] !== FRAME_MAGIC_0 || buf[i + 11] !== FRAME_MAGIC_1) continue;
    const frame = parseFrame(buf, i, end);
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
