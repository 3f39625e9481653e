/**
 * The recovery scan: walks segments from a position, hands every committed
 * event to a sink, and decides what damage means.
 *
 * - A sealed segment (any but the last) must be perfect: a bad frame or an
 *   unfinished batch throws {@linkcode CorruptSegmentError} naming the file
 *   and offset.
 * - In the last segment, damage after which no valid frame follows is a torn
 *   tail (a write cut short by a crash): the segment is cut back to the last
 *   whole frame or committed batch, and the cut is reported. Damage followed
 *   by a valid frame is corruption, not a torn write, and fails closed.
 *
 * @module
 */

import { join } from "node:path";
import type { FileSystem } from "../fs/types.ts";
import { CorruptSegmentError } from "../core/errors.ts";
import { type EventHeader, readEventHeader } from "./event_codec.ts";
import { decodeMarker, FLAG_IN_BATCH, FRAME_HEADER_BYTES, FrameKind, parseFrame } from "./frame.ts";
import { checkSegmentHeader, SEGMENT_HEADER_BYTES, segmentName } from "./segment.ts";

/** Receives committed events in log order. May throw to fail the open. */
export interface ScanSink {
  /** One committed event; `buf[bodyAt ..]` is its body, valid during the call. */
  event(
    segment: number,
    offset: number,
    frameLength: number,
    buf: Uint8Array,
    header: EventHeader,
  ): void;
}

/** Where the scan ended. */
export interface ScanResult {
  /** The last segment scanned. */
  lastSegment: number;
  /** Offset just past the last good frame of the last segment. */
  endOffset: number;
  /** Bytes past `endOffset` that were damaged or uncommitted (to be cut). */
  truncatedBytes: number;
  /** Segment of the last committed frame (0 when the scan found none). */
  lastFrameSegment: number;
  /** Offset of the last committed frame (for sidecar validation). */
  lastFrameOffset: number;
  /** CRC of that frame. */
  lastFrameCrc: number;
}

/** Read a whole file (or from `from`) into memory. */
export function readWhole(fs: FileSystem, path: string, from = 0): Uint8Array {
  const h = fs.open(path, { read: true });
  try {
    const size = h.size();
    const buf = new Uint8Array(Math.max(0, size - from));
    let got = 0;
    while (got < buf.length) {
      const n = h.read(buf.subarray(got), from + got);
      if (n <= 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } finally {
    h.close();
  }
}

/** One past the last non-zero byte of `buf` (0 when all zero). */
export function dataEnd(buf: Uint8Array): number {
  let end = buf.length;
  // Word-wise over the aligned middle: the zeroed preallocation can be a megabyte.
  while (end > 0 && (end & 7) !== 0 && buf[end - 1] === 0) end--;
  if ((end & 7) === 0 && (buf.byteOffset & 7) === 0) {
    const words = new BigUint64Array(buf.buffer, buf.byteOffset, end >>> 3);
    let w = words.length;
    while (w > 0 && words[w - 1] === 0n) w--;
    end = w * 8;
  }
  while (end > 0 && buf[end - 1] === 0) end--;
  return end;
}

/**
 * A segment's header and its bytes from `from` on, at their file offsets in a
 * buffer of the file's size (the skipped middle stays zero and, allocated
 * lazily by the OS, costs no memory): a scan that resumes mid-segment reads
 * only what it needs.
 */
export function readTail(fs: FileSystem, path: string, from: number): Uint8Array {
  const h = fs.open(path, { read: true });
  try {
    const size = h.size();
    const buf = new Uint8Array(size);
    const fill = (start: number, end: number): number => {
      let got = start;
      while (got < end) {
        const n = h.read(buf.subarray(got, end), got);
        if (n <= 0) break;
        got += n;
      }
      return got;
    };
    fill(0, Math.min(SEGMENT_HEADER_BYTES, size));
    const end = fill(Math.min(from, size), size);
    return end === size ? buf : buf.subarray(0, end);
  } finally {
    h.close();
  }
}

/** True when a valid frame starts anywhere in `buf[from .. end]`. */
function validFrameAfter(buf: Uint8Array, from: number, end: number): boolean {
  for (let i = from; i + FRAME_HEADER_BYTES <= end; i++) {
    if (buf[i + 10] !== 0xb7 || buf[i + 11] !== 0xf1) continue;
    if (typeof parseFrame(buf, i, end) !== "string") return true;
  }
  return false;
}

interface Pending {
  offset: number;
  length: number;
  header: EventHeader;
}

/**
 * Scan `segments` (ascending numbers) starting at `start.segment` /
 * `start.offset` (an offset of 0 means "after the header").
 */
export function scanLog(
  fs: FileSystem,
  dataDir: string,
  segments: readonly number[],
  start: { segment: number; offset: number },
  sink: ScanSink,
): ScanResult {
  const result: ScanResult = {
    lastSegment: start.segment,
    endOffset: SEGMENT_HEADER_BYTES,
    truncatedBytes: 0,
    lastFrameSegment: 0,
    lastFrameOffset: 0,
    lastFrameCrc: 0,
  };
  const lastSegment = segments[segments.length - 1];
  for (const segment of segments) {
    if (segment < start.segment) continue;
    const name = segmentName(segment);
    const sealed = segment !== lastSegment;
    const resume = segment === start.segment && start.offset > SEGMENT_HEADER_BYTES;
    const path = join(dataDir, name);
    const buf = resume ? readTail(fs, path, start.offset) : readWhole(fs, path);
    result.lastSegment = segment;
    const headerProblem = checkSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES), segment);
    if (headerProblem) {
      // A segment created by a crash-interrupted rotation: its header never landed.
      const neverWritten = buf.length < SEGMENT_HEADER_BYTES || buf.every((b) => b === 0);
      if (sealed || !neverWritten) throw new CorruptSegmentError(name, 0, headerProblem);
      result.endOffset = 0;
      result.truncatedBytes = buf.length;
      return result;
    }
    let at = segment === start.segment && start.offset > SEGMENT_HEADER_BYTES
      ? start.offset
      : SEGMENT_HEADER_BYTES;
    let goodEnd = at;
    let batch: Pending[] | undefined;
    let batchStart = 0;
    let batchCount = 0;
    let fault: string | undefined;
    while (at < buf.length) {
      const frame = parseFrame(buf, at);
      if (typeof frame === "string") {
        fault = `frame check failed: ${frame}`;
        break;
      }
      if (frame.kind === FrameKind.Event) {
        const header = readEventHeader(buf, frame.bodyAt, frame.bodyLength);
        if (typeof header === "string") throw new CorruptSegmentError(name, at, header);
        const inBatch = (frame.flags & FLAG_IN_BATCH) !== 0;
        if (inBatch !== (batch !== undefined)) {
          throw new CorruptSegmentError(name, at, "event frame outside its batch markers");
        }
        if (batch) batch.push({ offset: at, length: frame.frameLength, header });
        else {
          sink.event(segment, at, frame.frameLength, buf, header);
          goodEnd = at + frame.frameLength;
          result.lastFrameSegment = segment;
          result.lastFrameOffset = at;
          result.lastFrameCrc = frame.crc;
        }
      } else if (frame.kind === FrameKind.BatchBegin) {
        const marker = decodeMarker(buf, frame.bodyAt, frame.bodyLength);
        if (!marker || batch) throw new CorruptSegmentError(name, at, "malformed batch begin");
        batch = [];
        batchStart = at;
        batchCount = marker.count;
      } else {
        const marker = decodeMarker(buf, frame.bodyAt, frame.bodyLength);
        if (!marker || !batch || marker.count !== batchCount || batch.length !== batchCount) {
          throw new CorruptSegmentError(name, at, "batch commit does not match its begin");
        }
        for (const p of batch) {
          sink.event(segment, p.offset, p.length, buf, p.header);
        }
        batch = undefined;
        goodEnd = at + frame.frameLength;
        result.lastFrameSegment = segment;
        result.lastFrameOffset = at;
        result.lastFrameCrc = frame.crc;
      }
      at += frame.frameLength;
    }
    // The active segment ends in zeroed preallocation: a zero frame header is the end of the log.
    const end = sealed ? buf.length : dataEnd(buf);
    if (fault !== undefined && !sealed && at >= end) fault = undefined;
    if (batch && fault === undefined) fault = "batch without commit";
    if (fault !== undefined) {
      const faultAt = batch ? batchStart : at;
      if (sealed) throw new CorruptSegmentError(name, faultAt, fault);
      if (validFrameAfter(buf, at + 1, end)) {
        throw new CorruptSegmentError(
          name,
          at,
          `${fault}, and valid frames follow: this is corruption, not a torn write`,
        );
      }
      result.endOffset = goodEnd;
      result.truncatedBytes = Math.max(0, end - goodEnd);
      return result;
    }
    result.endOffset = goodEnd;
  }
  return result;
}
