/**
 * Compaction: rewrite sealed segments with the payloads of deleted,
 * truncated, expired and redacted events erased, and reclaim the space.
 *
 * An erased event keeps its frame — id, entity, sequences, kind, key, links
 * and its event hash — with the payload replaced by the payload's BLAKE3
 * (format 2 hashes the payload's hash, not its bytes), so global order,
 * cursors and `verify()` are unchanged; only the payload bytes leave the
 * disk. Format-1 events (stores written before format 2) hash their payload
 * bytes and are left as they are; the report counts them.
 *
 * Crash safety, per segment: the new segment is written to `NNNNNN.fbat.tmp`
 * and fsynced; the index sidecars (which record the old sizes and offsets)
 * are removed, durably; the tmp is renamed over the segment and the
 * directory fsynced; then the in-memory index takes the new offsets, in the
 * same synchronous step as the rename. A crash before the rename leaves a
 * tmp (removed at open) and the old segment; after it, the new segment,
 * which the open scans (no sidecar vouches for the old one). Either way
 * every event is there; the lifecycle events that decide what is erased are
 * in the log, so a rerun finishes the job. Appends run between segments:
 * none waits longer than one segment's rewrite.
 *
 * @module
 */

import {
  CorruptSegmentError,
  InvalidArgumentError,
  IoError,
  StoreClosedError,
} from "../core/errors.ts";
import { HASH_BYTES, hashInto } from "../core/hash.ts";
import { isSystemKind } from "../core/kind.ts";
import type { Engine } from "../engine/engine.ts";
import { joinPath } from "../fs/path.ts";
import { Visibility } from "../index/visibility.ts";
import { CHECKPOINT_FILE, IMAGE_FILE } from "../index/sidecar.ts";
import { Flag2, readEventHeader } from "../log/event_codec.ts";
import { readWhole } from "../log/files.ts";
import {
  FRAME_HEADER_BYTES,
  frameCrcAt,
  FrameCrcs,
  isEventFrame,
  parseFrame,
  sealFrame,
} from "../log/frame.ts";
import { SEGMENT_HEADER_BYTES, segmentName, TMP_SUFFIX } from "../log/segment.ts";
import { storageError } from "../log/writer.ts";

/** What a compaction did. */
export interface CompactReport {
  /** Segments written anew (those holding at least one payload to erase). */
  segmentsRewritten: number;
  /** Bytes of all segment files before. */
  bytesBefore: number;
  /** Bytes of all segment files after. */
  bytesAfter: number;
  /**
   * Events whose payload bytes were removed (deleted, truncated, expired or
   * redacted). The events themselves stay in the log as headers with their
   * hashes: global order and `verify()` are unchanged.
   */
  eventsDropped: number;
  /** Events that should have been erased but are format 1 (written before format 2): kept. */
  eventsNotErasable: number;
}

/** Options of {@linkcode compactStore}. */
export interface CompactOptions {
  /** Called after each segment with (segments done, segments to rewrite). */
  onProgress?: (done: number, total: number) => void;
}

const running = new WeakSet<Engine>();

function segmentBytes(engine: Engine): number {
  let total = 0;
  for (const n of engine.segments) {
    total += engine.fs.stat(joinPath(engine.dataDir, segmentName(n)))?.size ?? 0;
  }
  return total;
}

/** A new location of an event rewritten in a segment. */
interface Moved {
  g: number;
  offset: number;
  length: number;
}

/** The segment rewritten in memory, or `undefined` when nothing in it is to be erased. */
interface Rewrite {
  bytes: Uint8Array;
  moved: Moved[];
  erased: number;
  lastFrameOffset: number;
  lastFrameCrc: number;
}

/**
 * Rewrite segment `n` in memory: events `erase(g)` says are gone lose their
 * payload. `notErasable` counts those of format 1.
 */
function rewrite(
  engine: Engine,
  n: number,
  erase: (g: number, kind: number) => boolean,
  counts: { notErasable: number },
): Rewrite | undefined {
  const path = joinPath(engine.dataDir, segmentName(n));
  let old: Uint8Array;
  let size: number;
  try {
    size = engine.fs.stat(path)?.size ?? 0;
    old = readWhole(engine.fs, path);
  } catch (e) {
    throw storageError(e, "compact: read segment", path);
  }
  // Rewriting a prefix would cut the segment: all of it, or nothing.
  if (old.length !== size) {
    throw new IoError("io", "compact: read segment", path, `read ${old.length} of ${size} bytes`);
  }
  let w = SEGMENT_HEADER_BYTES;
  // An erased payload takes 32 bytes (its hash): a shorter one grows its frame.
  let out = new Uint8Array(old.length + 4096);
  const room = (n: number) => {
    if (w + n <= out.length) return;
    const bigger = new Uint8Array(Math.max(out.length * 2, w + n));
    bigger.set(out.subarray(0, w));
    out = bigger;
  };
  out.set(old.subarray(0, SEGMENT_HEADER_BYTES), 0);
  const moved: Moved[] = [];
  let erased = 0;
  let lastFrameOffset = 0;
  let lastFrameCrc = 0;
  const payloadHash = new Uint8Array(HASH_BYTES);
  const crcs = new FrameCrcs();
  for (let at = SEGMENT_HEADER_BYTES; at < old.length;) {
    const frame = parseFrame(old, at, old.length, crcs);
    // A sealed segment is whole frames (checked at open and by verify): anything else, or an
    // event the index places elsewhere, and this segment is not rewritten.
    if (typeof frame === "string") {
      throw new CorruptSegmentError(segmentName(n), at, `compact: frame check failed: ${frame}`);
    }
    const h = isEventFrame(frame.kind)
      ? readEventHeader(old, frame.bodyAt, frame.bodyLength, frame.kind)
      : undefined;
    if (typeof h === "string") {
      throw new CorruptSegmentError(segmentName(n), at, `compact: ${h}`);
    }
    if (h !== undefined) {
      const g = h.globalSequence;
      const loc = g >= 1 && g <= engine.index.count ? engine.index.location(g) : undefined;
      if (loc?.segment !== n || loc.offset !== at || loc.length !== frame.frameLength) {
        throw new CorruptSegmentError(
          segmentName(n),
          at,
          `compact: the frame of global sequence ${g} is not where the index has it`,
        );
      }
    }
    lastFrameOffset = w;
    if (h !== undefined && !h.erased && erase(h.globalSequence, h.kind)) {
      if (h.format === 1) {
        counts.notErasable++;
      } else {
        // Fields as they are (erased flag set), the payload's hash, the event hash.
        const fields = h.payloadAt - frame.bodyAt;
        const bodyLength = fields + 2 * HASH_BYTES;
        room(FRAME_HEADER_BYTES + bodyLength);
        const body = w + FRAME_HEADER_BYTES;
        out.set(old.subarray(frame.bodyAt, h.payloadAt), body);
        out[body + 16] |= Flag2.Erased;
        hashInto(old.subarray(h.payloadAt, h.payloadEnd), payloadHash, 0);
        out.set(payloadHash, body + fields);
        out.set(old.subarray(h.hashAt, h.hashAt + HASH_BYTES), body + fields + HASH_BYTES);
        sealFrame(out, w, bodyLength, frame.kind, frame.flags);
        moved.push({ g: h.globalSequence, offset: w, length: FRAME_HEADER_BYTES + bodyLength });
        lastFrameCrc = frameCrcAt(out, w);
        w += FRAME_HEADER_BYTES + bodyLength;
        at += frame.frameLength;
        erased++;
        continue;
      }
    }
    room(frame.frameLength);
    out.set(old.subarray(at, at + frame.frameLength), w);
    if (h !== undefined) {
      moved.push({ g: h.globalSequence, offset: w, length: frame.frameLength });
    }
    lastFrameCrc = frame.crc;
    w += frame.frameLength;
    at += frame.frameLength;
  }
  if (erased === 0) return undefined;
  return { bytes: out.subarray(0, w), moved, erased, lastFrameOffset, lastFrameCrc };
}

/** Write `bytes` to `path`.tmp, fsynced; returns the tmp path. */
function writeTmp(engine: Engine, path: string, bytes: Uint8Array): string {
  const tmp = path + TMP_SUFFIX;
  const fs = engine.fs;
  try {
    const h = fs.open(tmp, { write: true, create: true, truncate: true });
    try {
      h.write(bytes, 0);
      h.syncData();
    } finally {
      h.close();
    }
  } catch (e) {
    try {
      fs.remove(tmp);
    } catch { /* removed at the next open */ }
    throw storageError(e, "compact: write segment", tmp);
  }
  return tmp;
}

/** Remove the sidecars (they record the old sizes, offsets and CRCs), durably. */
function dropSidecars(engine: Engine): void {
  engine.forgetImageOnDisk();
  const fs = engine.fs;
  for (const file of [IMAGE_FILE, CHECKPOINT_FILE]) {
    const path = joinPath(engine.dataDir, file);
    try {
      if (fs.stat(path) !== undefined) fs.remove(path);
    } catch (e) {
      throw storageError(e, "compact: remove sidecar", path);
    }
  }
  try {
    fs.syncDir(engine.dataDir);
  } catch (e) {
    throw storageError(e, "compact: remove sidecar", engine.dataDir);
  }
}

/** Replace segment `n` with `r` and move the index to its new offsets. */
function install(engine: Engine, n: number, r: Rewrite): void {
  const path = joinPath(engine.dataDir, segmentName(n));
  const tmp = writeTmp(engine, path, r.bytes);
  dropSidecars(engine);
  const fs = engine.fs;
  try {
    fs.rename(tmp, path);
  } catch (e) {
    try {
      fs.remove(tmp);
    } catch { /* removed at the next open */ }
    throw storageError(e, "compact: replace segment", path);
  }
  // Renamed: the file now holds the new frames, so the index must say so before anything
  // else runs (reads, appends). Then make the rename durable.
  const index = engine.index;
  for (const m of r.moved) {
    const [page, row] = index.row(m.g);
    page.off[row] = m.offset;
    page.len[row] = m.length;
  }
  engine.reader.forget(n);
  engine.sealed(n, r.bytes.length, r.lastFrameOffset, r.lastFrameCrc);
  // The log's last frame is here when the active segment was just sealed and nothing since.
  if (engine.lastFrame.segment === n) {
    engine.lastFrame = { segment: n, offset: r.lastFrameOffset, crc: r.lastFrameCrc };
  }
  try {
    fs.syncDir(engine.dataDir);
  } catch (e) {
    throw storageError(e, "compact: replace segment", engine.dataDir);
  }
}

/**
 * Compact the store behind `engine` (see `Store.compact`). Seals the active
 * segment first when it holds a payload to erase, so that everything gone is
 * in a sealed segment.
 */
export async function compactStore(
  engine: Engine,
  options: CompactOptions | undefined,
): Promise<CompactReport> {
  const writer = engine.requireWriter();
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError("compact: options must be an object");
  }
  const onProgress = options?.onProgress;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new InvalidArgumentError("compact: onProgress must be a function");
  }
  if (running.has(engine)) {
    throw new InvalidArgumentError("compact: a compaction of this store is already running");
  }
  running.add(engine);
  try {
    // Nothing moves before the caller's synchronous work is over: a compaction started from
    // inside a read (a replay's visitor, a projection's apply) would otherwise rewrite a segment
    // and move its frames in the index while that read is between two of them.
    await Promise.resolve();
    // Every page of an image read lazily, before any frame moves: a damaged one fails here, not
    // halfway through a rewrite (and the image, removed below, is not read again).
    engine.index.readAll();
    const bytesBefore = segmentBytes(engine);
    const visibility = new Visibility();
    const now = engine.now();
    // What is gone, as the lifecycle state says now (re-read per segment: appends, deletions
    // and redactions may land between segments).
    const eraser = (): (g: number, kind: number) => boolean => {
      const lifecycle = engine.system.lifecycle;
      const hidden = visibility.hidden(engine.index, lifecycle, now);
      return (g, kind) =>
        !isSystemKind(kind) && (lifecycle.redacted.has(g) || (hidden !== undefined && hidden(g)));
    };
    let erase = eraser();
    // Anything to erase in the active segment? Then seal it so it is rewritten too.
    const firstActive = firstEventOf(engine, writer.segment);
    if (firstActive > 0) {
      for (let g = firstActive; g <= engine.index.count; g++) {
        if (erase(g, engine.index.kindOf(g))) {
          writer.seal();
          break;
        }
      }
    }
    writer.flush();
    // Only segments holding something to erase are read (the index says which).
    const wanted = new Set<number>();
    const index = engine.index;
    for (let g = 1; g <= index.count; g++) {
      if (erase(g, index.kindOf(g))) wanted.add(index.location(g).segment);
    }
    const sealed = engine.segments.filter((n) => n !== writer.segment && wanted.has(n));
    const counts = { notErasable: 0 };
    let segmentsRewritten = 0;
    let eventsDropped = 0;
    for (let i = 0; i < sealed.length; i++) {
      if (engine.closed) throw new StoreClosedError();
      if (i > 0) erase = eraser();
      const r = rewrite(engine, sealed[i], erase, counts);
      if (r !== undefined) {
        install(engine, sealed[i], r);
        segmentsRewritten++;
        eventsDropped += r.erased;
      }
      onProgress?.(i + 1, sealed.length);
      // Let appends and reads in between: none waits for more than one segment.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (engine.closed) throw new StoreClosedError();
    if (segmentsRewritten > 0) {
      // The sidecars went with the first rewrite: write them again for a fast next open.
      engine.requireWriter().syncNow();
      if (engine.settings.enableMmapIndex) engine.writeSidecar("image");
      if (engine.settings.enableCheckpoint) engine.writeSidecar("checkpoint");
    }
    return {
      segmentsRewritten,
      bytesBefore,
      bytesAfter: segmentBytes(engine),
      eventsDropped,
      eventsNotErasable: counts.notErasable,
    };
  } finally {
    running.delete(engine);
  }
}

/** The first global sequence stored in segment `n` (0 when none). */
function firstEventOf(engine: Engine, n: number): number {
  const index = engine.index;
  // Segments hold ascending global sequences: binary search the segment column.
  let lo = 1;
  let hi = index.count + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (index.location(mid).segment < n) lo = mid + 1;
    else hi = mid;
  }
  return lo <= index.count && index.location(lo).segment === n ? lo : 0;
}
