/**
 * The recovery scan: walks segments from a position, hands every committed
 * event to a sink, and decides what damage means.
 *
 * - A sealed segment (any but the last) must be perfect: a bad frame or an
 *   unfinished batch throws {@linkcode CorruptSegmentError} naming the file
 *   and offset.
 * - In the last segment, damage after which nothing of the log follows is a
 *   torn tail (a write cut short by a crash): the segment is cut back to the
 *   last whole frame or committed batch, and the cut is reported. Damage
 *   followed by a valid frame that continues the log (a global sequence it
 *   has not reached yet) is corruption, not a torn write, and fails closed;
 *   frame-shaped bytes inside a torn payload do not count.
 * - A segment file larger than the offsets can address (4 GiB) fails closed:
 *   it is never "cut back" to fit.
 * - A reader beside a live writer can see a page of a write and not the page
 *   before it: when following, such a fault is read again before it counts.
 *
 * @module
 */

import { CorruptSegmentError } from "../core/errors.ts";
import { SEGMENT_FILE_BYTES_MAX } from "../core/limits.ts";
import { joinPath } from "../fs/path.ts";
import type { FileSystem } from "../fs/types.ts";
import { type EventHeader, readEventHeader } from "./event_codec.ts";
import { dataEnd, readAt, readTail, readWhole } from "./files.ts";
import {
  decodeMarker,
  FLAG_IN_BATCH,
  FrameCrcs,
  FrameKind,
  isEventFrame,
  parseFrame,
} from "./frame.ts";
import { continuationAfter } from "./frames.ts";
import { checkSegmentHeader, neverWritten, SEGMENT_HEADER_BYTES, segmentName } from "./segment.ts";

/**
 * Times a following scan (of a log another process writes) reads the last
 * segment's tail again before damage followed by a continuing frame counts
 * as corruption. One overlap with a write needs one; each re-read is of the
 * tail only.
 */
export const FOLLOW_REREADS_MAX = 8;

/** Receives committed events in log order. May throw to fail the open. */
export interface ScanSink {
  /**
   * Segment `segment` was scanned to its end and is sealed (another segment
   * follows): `size` bytes, its last frame at `lastFrameOffset` with CRC
   * `lastFrameCrc`.
   */
  sealed?(segment: number, size: number, lastFrameOffset: number, lastFrameCrc: number): void;
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
  /** Segment of the last committed event frame (0 when the scan found none). */
  lastFrameSegment: number;
  /** Offset of the last committed event frame (sidecars name the log's end by it). */
  lastFrameOffset: number;
  /** CRC of that frame. */
  lastFrameCrc: number;
}

interface Pending {
  offset: number;
  length: number;
  crc: number;
  header: EventHeader;
}

/**
 * Scan `segments` (ascending numbers) starting at `start.segment` /
 * `start.offset` (an offset of 0 means "after the header"). `follow`: the
 * log is another process's, being written while it is read (a read-only
 * open, a follower's refresh): a fault in the last segment followed by a
 * continuing frame is read again, up to {@linkcode FOLLOW_REREADS_MAX}
 * times, before it fails as corruption.
 */
export function scanLog(
  fs: FileSystem,
  dataDir: string,
  segments: readonly number[],
  start: { segment: number; offset: number; lastFrameOffset?: number; lastFrameCrc?: number },
  sink: ScanSink,
  nextGlobal: number,
  follow = false,
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
  let expectG = nextGlobal;
  for (const segment of segments) {
    if (segment < start.segment) continue;
    const name = segmentName(segment);
    const sealed = segment !== lastSegment;
    const resume = segment === start.segment && start.offset > SEGMENT_HEADER_BYTES;
    const path = joinPath(dataDir, name);
    const size = fs.stat(path)?.size ?? 0;
    if (size > SEGMENT_FILE_BYTES_MAX) {
      throw new CorruptSegmentError(
        name,
        SEGMENT_FILE_BYTES_MAX,
        `the file is ${size} bytes, more than a segment can address (${SEGMENT_FILE_BYTES_MAX})`,
      );
    }
    if (resume && !sealed && size === start.offset) {
      // The log ends where the sidecar's coverage does (a clean close): nothing to scan. Not
      // even a buffer of the file's size, whose zeroing cost 1.7 ms of a 10 MB segment's open.
      const header = new Uint8Array(SEGMENT_HEADER_BYTES);
      const got = readAt(fs, path, header, 0);
      const problem = checkSegmentHeader(header.subarray(0, got), segment);
      if (problem) throw new CorruptSegmentError(name, 0, problem);
      result.lastSegment = segment;
      result.endOffset = start.offset;
      continue;
    }
    let buf = resume ? readTail(fs, path, start.offset) : readWhole(fs, path);
    result.lastSegment = segment;
    const headerProblem = checkSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES), segment);
    if (headerProblem) {
      // The last segment of an interrupted rotation (older versions created it in place):
      // its header never landed.
      if (sealed || !neverWritten(buf)) throw new CorruptSegmentError(name, 0, headerProblem);
      result.endOffset = 0;
      result.truncatedBytes = buf.length;
      return result;
    }
    let at = resume ? start.offset : SEGMENT_HEADER_BYTES;
    let goodEnd = at;
    // The segment's last whole frame so far (from the sidecar when the scan resumes inside it).
    let segLastOffset = resume ? start.lastFrameOffset ?? 0 : 0;
    let segLastCrc = resume ? start.lastFrameCrc ?? 0 : 0;
    let batch: Pending[] | undefined;
    let batchStart = 0;
    let batchCount = 0;
    let fault: string | undefined;
    let crcs = new FrameCrcs();
    let rereads = 0;
    // One pass, or more when a following read (see below) reads the tail again.
    rescan: for (;;) {
      while (at < buf.length) {
        const frame = parseFrame(buf, at, buf.length, crcs);
        if (typeof frame === "string") {
          fault = `frame check failed: ${frame}`;
          break;
        }
        if (isEventFrame(frame.kind)) {
          const header = readEventHeader(buf, frame.bodyAt, frame.bodyLength, frame.kind);
          if (typeof header === "string") throw new CorruptSegmentError(name, at, header);
          const inBatch = (frame.flags & FLAG_IN_BATCH) !== 0;
          if (inBatch !== (batch !== undefined)) {
            throw new CorruptSegmentError(name, at, "event frame outside its batch markers");
          }
          if (batch) batch.push({ offset: at, length: frame.frameLength, crc: frame.crc, header });
          else {
            sink.event(segment, at, frame.frameLength, buf, header);
            expectG = header.globalSequence + 1;
            goodEnd = at + frame.frameLength;
            segLastOffset = result.lastFrameOffset = at;
            segLastCrc = result.lastFrameCrc = frame.crc;
            result.lastFrameSegment = segment;
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
            expectG = p.header.globalSequence + 1;
          }
          // The batch's last EVENT frame names it (a marker holds nothing that tells two stores
          // apart; an event holds its random id).
          const lastEvent = batch[batch.length - 1];
          batch = undefined;
          goodEnd = at + frame.frameLength;
          if (lastEvent !== undefined) {
            segLastOffset = result.lastFrameOffset = lastEvent.offset;
            segLastCrc = result.lastFrameCrc = lastEvent.crc;
            result.lastFrameSegment = segment;
          }
        }
        at += frame.frameLength;
      }
      // The active segment ends in zeroed preallocation: a zero frame header is the end of the log.
      // Only what lies past `at` matters (below, `at >= end` means "nothing follows").
      const end = sealed ? buf.length : dataEnd(buf, at);
      if (fault !== undefined && !sealed && at >= end) fault = undefined;
      if (batch && fault === undefined) fault = "batch without commit";
      if (fault !== undefined) {
        const faultAt = batch ? batchStart : at;
        if (sealed) throw new CorruptSegmentError(name, faultAt, fault);
        // Frames may start before `end` (the last non-zero byte) and end in zeros past it.
        const next = continuationAfter(buf, at + 1, end, expectG, buf.length);
        if (next >= 0 && follow && rereads < FOLLOW_REREADS_MAX) {
          // Another process is writing this segment: a read that overlapped its write can see a
          // later page of it and not an earlier one (the copies of the two go page by page, side
          // by side). Read again from the fault, which by now holds what was being written;
          // damage that is really there is read the same every time.
          rereads++;
          at = faultAt;
          batch = undefined;
          fault = undefined;
          buf = readTail(fs, path, at);
          crcs = new FrameCrcs();
          continue rescan;
        }
        if (next >= 0) {
          throw new CorruptSegmentError(
            name,
            at,
            `${fault}, and a valid frame continuing the log follows at ${next}: ` +
              `this is corruption, not a torn write`,
          );
        }
        // Trailing zeros are what preallocation leaves: only the bytes up to the last non-zero
        // one count as cut.
        result.endOffset = goodEnd;
        result.truncatedBytes = Math.max(0, end - goodEnd);
        return result;
      }
      break;
    }
    result.endOffset = goodEnd;
    if (sealed) {
      if (segLastOffset === 0) {
        throw new CorruptSegmentError(
          name,
          SEGMENT_HEADER_BYTES,
          "a sealed segment holds no frames",
        );
      }
      sink.sealed?.(segment, buf.length, segLastOffset, segLastCrc);
    }
  }
  return result;
}
