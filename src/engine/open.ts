/**
 * Opening a store: the directory lock, the segment list, the restore path
 * (index image → checkpoint → full scan), the recovery scan of the log past
 * what the sidecar covers, and the writer (or, read-only, the follower's
 * view of the end of the log).
 *
 * A sidecar only speeds the open up; it is never trusted over the log. But
 * it is evidence: one that passes its own checks and records segments or
 * bytes the log no longer has means the log lost them, and the open fails
 * closed (`CorruptSegmentError`) instead of silently opening a shorter log
 * — and changes nothing, so the evidence survives.
 *
 * @module
 */

import { CorruptSegmentError, InvalidArgumentError, StoreLockedError } from "../core/errors.ts";
import type { OpenReport } from "../core/types.ts";
import { SystemState } from "../core/system.ts";
import { joinPath } from "../fs/path.ts";
import type { FileHandle } from "../fs/types.ts";
import { Index } from "../index/index.ts";
import {
  CHECKPOINT_FILE,
  type Coverage,
  IMAGE_FILE,
  type LoadedSidecar,
  loadSidecar,
  type SealedSegment,
  SIDECAR_UNREADABLE,
  SIDECAR_VERSION,
  SidecarDamage,
} from "../index/sidecar.ts";
import { readAt } from "../log/files.ts";
import {
  FRAME_BODY_BYTES_MAX,
  FRAME_HEADER_BYTES,
  MARKER_FRAME_BYTES,
  parseFrame,
} from "../log/frame.ts";
import { readEventFrame } from "../log/frames.ts";
import { scanLog, type ScanResult } from "../log/recovery.ts";
import {
  checkSegmentHeader,
  FORMAT_VERSION,
  neverWritten,
  parseSegmentName,
  SEGMENT_HEADER_BYTES,
  segmentName,
  segmentVersion,
  TMP_SUFFIX,
} from "../log/segment.ts";
import { createSegment, LogWriter, storageError } from "../log/writer.ts";
import { readIdWords } from "./_ids.ts";
import { CURSORS_FILE, CursorStore } from "./cursors.ts";
import { Engine } from "./engine.ts";
import type { Settings } from "./settings.ts";
import { replaySink } from "./replay.ts";
import { FollowedLog } from "./tail.ts";

/** Present in a snapshot directory until the copy is complete; a store will not open beside it. */
export const SNAPSHOT_INCOMPLETE_FILE = "SNAPSHOT-INCOMPLETE";

/** Names that look like segments (digits + `.fbat`), canonical or not. */
const SEGMENT_LIKE = /^\d{6,}\.fbat$/;

/** Temporary files the store itself writes (removed by a writable open; nothing else is touched). */
function isOwnTmp(name: string): boolean {
  if (!name.endsWith(TMP_SUFFIX)) return false;
  const base = name.slice(0, -TMP_SUFFIX.length);
  return base === IMAGE_FILE || base === CHECKPOINT_FILE || base === CURSORS_FILE ||
    parseSegmentName(base) !== undefined;
}

/**
 * The segment numbers in the directory, ascending and contiguous from 1. A
 * directory listing is not atomic while another process creates files (a
 * follower can miss a segment that was created as it listed), so a gap is
 * checked by name before it counts as missing.
 */
export function listSegments(engine: Engine): number[] {
  const { fs, dataDir } = engine;
  const found = new Set<number>();
  for (const name of fs.readDir(dataDir)) {
    const n = parseSegmentName(name);
    if (n !== undefined) found.add(n);
    else if (SEGMENT_LIKE.test(name)) {
      // A segment under a name the store never writes (renamed by hand?): whatever it holds
      // is missing from the log, so refuse rather than open without it.
      throw new CorruptSegmentError(
        name,
        0,
        `a file named like a segment, but not as the store names them (${
          segmentName(Number(name.slice(0, -5)))
        }): rename it back or move it out of the directory`,
      );
    }
  }
  const max = found.size === 0 ? 0 : Math.max(...found);
  const segments: number[] = [];
  for (let n = 1; n <= max; n++) {
    if (!found.has(n) && fs.stat(joinPath(dataDir, segmentName(n))) === undefined) {
      throw new CorruptSegmentError(
        segmentName(n),
        0,
        n === 1
          ? `segment missing: the log starts at ${segmentName(Math.min(...found))}`
          : `segment missing between ${segmentName(n - 1)} and ${
            segmentName([...found].filter((m) => m > n).sort((a, b) => a - b)[0])
          }`,
      );
    }
    segments.push(n);
  }
  return segments;
}

/**
 * Check every segment's header before any frame is read: a segment whose
 * header names another number (a copy under the wrong name) or is no
 * segment at all fails closed naming it. Only the last segment may lack its
 * header (an older version's interrupted rotation).
 */
export function checkSegmentHeaders(engine: Engine, segments: readonly number[]): void {
  const last = segments[segments.length - 1];
  for (const n of segments) {
    const name = segmentName(n);
    const path = joinPath(engine.dataDir, name);
    const header = new Uint8Array(SEGMENT_HEADER_BYTES);
    let got: number;
    try {
      got = readAt(engine.fs, path, header, 0);
    } catch (e) {
      throw storageError(e, "open segment", path);
    }
    const problem = checkSegmentHeader(header.subarray(0, got), n);
    if (problem === undefined) continue;
    if (n === last && neverWritten(header.subarray(0, got))) continue;
    throw new CorruptSegmentError(name, 0, `segment header: ${problem}`);
  }
}

/** Open the store `settings` describe (after the facade validated them). */
export function openEngine(s: Settings): Engine {
  const started = performance.now();
  const fs = s.fs;
  const existing = fs.stat(s.dataDir);
  if (existing !== undefined && !existing.isDirectory) {
    throw new InvalidArgumentError(`config.dataDir "${s.dataDir}" exists and is not a directory`);
  }
  if (s.readOnly && existing === undefined) {
    throw new InvalidArgumentError(`readOnly: no store in "${s.dataDir}" (no such directory)`);
  }
  if (existing !== undefined && fs.stat(joinPath(s.dataDir, SNAPSHOT_INCOMPLETE_FILE))) {
    throw new CorruptSegmentError(
      SNAPSHOT_INCOMPLETE_FILE,
      0,
      "this directory holds an interrupted snapshot, not the whole store: delete it and take " +
        "the snapshot again",
    );
  }
  let lock;
  if (!s.readOnly) {
    fs.mkdir(s.dataDir);
    // The directory itself is locked: deleting a file in it (say a "stale" LOCK) cannot let a
    // second writer in.
    lock = fs.lockDir(s.dataDir);
    if (lock === undefined) throw new StoreLockedError(s.dataDir);
  }
  const engine = new Engine(s, lock);
  try {
    restore(engine, started);
  } catch (e) {
    engine.writer?.close();
    engine.reader.close();
    lock?.release();
    throw e;
  }
  return engine;
}

function restore(engine: Engine, started: number): void {
  const s = engine.settings;
  const fs = engine.fs;
  if (!s.readOnly) {
    for (const name of fs.readDir(s.dataDir)) {
      if (isOwnTmp(name)) fs.remove(joinPath(s.dataDir, name));
    }
  }
  engine.segments = listSegments(engine);
  checkSegmentHeaders(engine, engine.segments);
  if (engine.segments.length === 0) {
    if (s.readOnly) {
      throw new InvalidArgumentError(`readOnly: no store in "${s.dataDir}" (no segment files)`);
    }
    const h = createSegment(fs, s.dataDir, 1);
    engine.segments = [1];
    engine.cursors = CursorStore.open(fs, s.dataDir, false);
    startWriter(engine, 1, h, SEGMENT_HEADER_BYTES);
    engine.openReport = report("rebuild", 0, engine, started, 0, []);
    return;
  }
  engine.cursors = CursorStore.open(fs, s.dataDir, s.readOnly);
  const rejected: string[] = [];
  // Sidecars not restored from: removed before the log is written to (below), or a later open
  // would hold them against a log that has since been cut and written past (seed 910).
  const discard: string[] = [];
  const attempts: ["image" | "checkpoint", boolean, string][] = [
    ["image", s.enableMmapIndex, IMAGE_FILE],
    ["checkpoint", s.enableCheckpoint, CHECKPOINT_FILE],
  ];
  for (const [kind, enabled, file] of attempts) {
    const path = joinPath(s.dataDir, file);
    if (fs.stat(path) === undefined) continue;
    const loaded = loadSidecar(fs, path, kind, { writable: !s.readOnly });
    if (typeof loaded === "string") {
      rejected.push(`${file}: ${loaded}`);
      // One this process cannot read (permissions, EIO) is not known to be bad: kept.
      if (!loaded.startsWith(SIDECAR_UNREADABLE)) discard.push(file);
      continue;
    }
    // A valid sidecar of ANOTHER store (copied in by hand) is no evidence of anything here.
    const foreign = foreignSidecar(engine, loaded);
    if (foreign !== undefined) {
      loaded.index.release();
      rejected.push(`${file}: ${foreign}`);
      discard.push(file);
      continue;
    }
    // Evidence: what a valid sidecar records must still be in the log (throws when not) —
    // also for a kind switched off in this config: it is still what the log once held.
    try {
      checkEvidence(engine, file, loaded);
    } catch (e) {
      loaded.index.release();
      throw e;
    }
    if (!enabled) {
      loaded.index.release();
      discard.push(file);
      continue;
    }
    // The last page, which appends (and a follower's refresh) write to, is read now: a damaged
    // one is found here, where the open can still take another path, and no append reads the
    // image after its frame is written.
    try {
      if (loaded.index.pageCount > 0) loaded.index.page(loaded.index.pageCount - 1);
    } catch (e) {
      loaded.index.release();
      if (!(e instanceof SidecarDamage)) throw e;
      rejected.push(`${file}: ${e.reason}`);
      discard.push(file);
      continue;
    }
    engine.adopt(loaded.index, SystemState.fromPlain(loaded.system));
    for (let n = 1; n <= loaded.sealed.length; n++) {
      const t = loaded.sealed[n - 1];
      if (t.size > 0) engine.sealedSegments.set(n, t);
    }
    const restored = loaded.index.count;
    try {
      finish(
        engine,
        kind === "image" ? "image" : "checkpoint",
        loaded.coverage,
        rejected,
        discard,
        started,
      );
      // The image stays on disk as read: a close that finds the index still at its count and
      // coverage (nothing appended, nothing compacted) need not write it again. An image of an
      // older version is rewritten in this one.
      if (kind === "image" && loaded.version === SIDECAR_VERSION) {
        engine.recordImageOnDisk(restored, loaded.coverage);
      }
      return;
    } catch (e) {
      if (!(e instanceof CorruptSegmentError)) throw e;
      // The log past the sidecar disagrees with it: distrust the sidecar, not the log.
      rejected.push(`${file}: tail scan failed: ${e.message}`);
      discard.push(file);
      engine.adopt(new Index(), new SystemState());
      engine.sealedSegments.clear();
    }
  }
  finish(engine, "rebuild", undefined, rejected, discard, started);
}

/**
 * Why `sidecar` belongs to another store, or `undefined` when it is this
 * store's: the event with global sequence 1 (whose id holds 62 random bits)
 * must be the one at the start of this log.
 */
function foreignSidecar(engine: Engine, sidecar: LoadedSidecar): string | undefined {
  const loc = sidecar.first;
  if (loc === undefined) return undefined;
  const firstAt = [SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + MARKER_FRAME_BYTES];
  if (loc.segment !== 1 || !firstAt.includes(loc.offset)) {
    return "its first event is not at the start of the log";
  }
  const path = joinPath(engine.dataDir, segmentName(1));
  const frame = new Uint8Array(loc.length);
  try {
    if (readAt(engine.fs, path, frame, loc.offset) !== loc.length) {
      return "its first event is not in the log";
    }
  } catch (e) {
    throw storageError(e, "check sidecar", path);
  }
  const header = readEventFrame(frame, 0, loc.length);
  if (typeof header === "string" || header.globalSequence !== 1) {
    return "its first event is not in the log";
  }
  const words = loc.id;
  const id = readIdWords(frame, header.bodyAt);
  for (let i = 0; i < 4; i++) {
    if (id[i] !== words[i]) return "it belongs to another store (its first event differs)";
  }
  return undefined;
}

/**
 * Throw `CorruptSegmentError` when the log lacks what `sidecar` (valid by
 * its own checks) records: a segment, the bytes it covers, a sealed
 * segment's size, or the frame it names last.
 */
function checkEvidence(engine: Engine, file: string, sidecar: LoadedSidecar): void {
  const c = sidecar.coverage;
  const segments = engine.segments;
  const last = segments[segments.length - 1];
  if (c.segment > last) {
    throw new CorruptSegmentError(
      segmentName(last + 1),
      0,
      `segment missing: ${file} covers the log up to ${segmentName(c.segment)}, ` +
        `the directory ends at ${segmentName(last)}`,
    );
  }
  const size = (n: number) => engine.fs.stat(joinPath(engine.dataDir, segmentName(n)))?.size ?? 0;
  const covered = size(c.segment);
  if (covered < c.endOffset) {
    throw new CorruptSegmentError(
      segmentName(c.segment),
      covered,
      `${file} covers ${c.endOffset} bytes of it, the file has ${covered}: the log lost its end`,
    );
  }
  for (let n = 1; n <= sidecar.sealed.length && n < c.segment; n++) {
    const t = sidecar.sealed[n - 1];
    if (t.size === 0) continue; // recorded before this table existed
    const actual = size(n);
    if (actual !== t.size) {
      throw new CorruptSegmentError(
        segmentName(n),
        Math.min(actual, t.size),
        `a sealed segment of ${actual} bytes, ${file} recorded ${t.size} (cut, grown or replaced)`,
      );
    }
    if (frameCrcOf(engine, n, t.lastFrameOffset) !== t.lastFrameCrc) {
      throw new CorruptSegmentError(
        segmentName(n),
        t.lastFrameOffset,
        `the last frame is not the one ${file} recorded (a replaced or damaged segment)`,
      );
    }
  }
  if (
    sidecar.index.count > 0 &&
    frameCrcOf(engine, c.lastFrameSegment, c.lastFrameOffset) !== c.lastFrameCrc
  ) {
    throw new CorruptSegmentError(
      segmentName(c.lastFrameSegment),
      c.lastFrameOffset,
      `the last frame ${file} covers is not there any more (a replaced or damaged segment)`,
    );
  }
}

/**
 * The CRC of the frame at `offset` of segment `n` when the whole frame is
 * there and checks (magic, length, CRC over its bytes), else -1: a frame
 * whose CRC field survived a torn write but whose body did not is not the
 * frame a sidecar vouched for (sim seed 910). A failing read throws its
 * storage error: that is not evidence of anything.
 */
function frameCrcOf(engine: Engine, n: number, offset: number): number {
  const path = joinPath(engine.dataDir, segmentName(n));
  try {
    const head = new Uint8Array(FRAME_HEADER_BYTES);
    if (readAt(engine.fs, path, head, offset) !== FRAME_HEADER_BYTES) return -1;
    const bodyLength = (head[4] | head[5] << 8 | head[6] << 16 | head[7] << 24) >>> 0;
    if (bodyLength > FRAME_BODY_BYTES_MAX) return -1;
    const frame = new Uint8Array(FRAME_HEADER_BYTES + bodyLength);
    if (readAt(engine.fs, path, frame, offset) !== frame.length) return -1;
    const parsed = parseFrame(frame, 0);
    return typeof parsed === "string" ? -1 : parsed.crc;
  } catch (e) {
    throw storageError(e, "check sidecar", path);
  }
}

/** Scan the log past `coverage` (all of it without one) and set up the writer or follower. */
function finish(
  engine: Engine,
  path: OpenReport["path"],
  coverage: Coverage | undefined,
  rejected: string[],
  discard: string[],
  started: number,
): void {
  const s = engine.settings;
  const index = engine.index;
  const restored = index.count;
  const start = coverage
    ? {
      segment: coverage.segment,
      offset: coverage.endOffset,
      lastFrameOffset: coverage.lastFrameSegment === coverage.segment
        ? coverage.lastFrameOffset
        : 0,
      lastFrameCrc: coverage.lastFrameSegment === coverage.segment ? coverage.lastFrameCrc : 0,
    }
    : { segment: engine.segments[0], offset: 0 };
  if (coverage && restored > 0) {
    engine.lastFrame = {
      segment: coverage.lastFrameSegment,
      offset: coverage.lastFrameOffset,
      crc: coverage.lastFrameCrc,
    };
  }
  // The id table is built once, at its size, when first needed (`get` by id, `redact`, the
  // image written at close), not grown event by event during the scan: after a checkpoint or
  // a rebuild, a session that only appends and reads streams never pays for it (at 1M events it
  // was ~18% of a checkpoint open, ~67 ms here).
  index.deferIds();
  const result = scanLog(
    engine.fs,
    s.dataDir,
    engine.segments,
    start,
    replaySink(engine),
    restored + 1,
    s.readOnly, // a read-only open reads a log another process may be writing
  );
  if (index.count > 0) engine.ids.observe(index.idWords(index.count));
  engine.cursors.clamp(index.count);
  const last = result.lastSegment;
  if (s.readOnly) {
    // Follow the log as it is: a torn or still-being-written tail is simply not read yet.
    const end = result.endOffset === 0 ? SEGMENT_HEADER_BYTES : result.endOffset;
    engine.end = new FollowedLog(last, end);
    engine.reader.attach(engine.end);
  } else {
    // Before the tail is cut or written to: a stale sidecar outliving a cut fails a later open.
    removeSidecars(engine, discard);
    // A sidecar only ever covers bytes that were durable when it was written (each is written
    // after an fsync of the log, by a writer that is not poisoned). When the log ends exactly
    // where the restored one says, in the segment it names, nothing past it was cut, and no
    // segment came after it, then every byte this open adopts was already durable: the
    // fsync of the tail (and of the directory) would flush nothing. Anything else — frames or a
    // segment a later process wrote after the sidecar, a torn tail — takes the fsync.
    const adoptsOnlyDurable = coverage !== undefined && result.truncatedBytes === 0 &&
      last === coverage.segment && result.endOffset === coverage.endOffset &&
      last === engine.segments[engine.segments.length - 1];
    let handle = prepareTail(engine, last, result, adoptsOnlyDurable);
    const legacy = olderFormat(engine, handle, last);
    if (legacy && result.endOffset === SEGMENT_HEADER_BYTES) {
      // An older version's segment with no frame yet: replaced whole (an atomic rename) by one
      // in this code's format.
      handle.close();
      handle = createSegment(engine.fs, s.dataDir, last);
    }
    startWriter(engine, last, handle, result.endOffset);
    // An older version's segment with frames is sealed as it is: nothing this code writes lands
    // in a segment whose header an older reader accepts (see segment.ts).
    if (legacy && result.endOffset > SEGMENT_HEADER_BYTES) engine.writer!.seal();
  }
  engine.checkpointedCount = path === "rebuild" ? 0 : restored;
  engine.openReport = report(path, restored, engine, started, result.truncatedBytes, rejected);
}

/**
 * Remove the sidecars this open did not restore from (damaged, another
 * store's, distrusted by the tail scan, or of a kind switched off), durably.
 */
function removeSidecars(engine: Engine, files: string[]): void {
  if (files.length === 0) return;
  const { fs, dataDir } = engine;
  for (const file of files) {
    const path = joinPath(dataDir, file);
    try {
      fs.remove(path);
    } catch (e) {
      throw storageError(e, "remove sidecar", path);
    }
  }
  try {
    fs.syncDir(dataDir);
  } catch (e) {
    throw storageError(e, "remove sidecar", dataDir);
  }
}

/** True when the segment open on `handle` has a header of an older format version. */
function olderFormat(engine: Engine, handle: FileHandle, n: number): boolean {
  const header = new Uint8Array(SEGMENT_HEADER_BYTES);
  const path = joinPath(engine.dataDir, segmentName(n));
  let got = 0;
  try {
    while (got < SEGMENT_HEADER_BYTES) {
      const read = handle.read(header.subarray(got), got);
      if (read <= 0) break;
      got += read;
    }
  } catch (e) {
    throw storageError(e, "open", path);
  }
  // The scan checked this header a moment ago: a short file now is another process's doing.
  if (got < SEGMENT_HEADER_BYTES) {
    throw new CorruptSegmentError(segmentName(n), got, "the segment header is gone");
  }
  return segmentVersion(header) < FORMAT_VERSION;
}

/**
 * Cut a torn tail (or rewrite a header that never landed) and make the
 * recovered log durable (unless `durable`: every byte of it is known to be
 * durable already).
 */
function prepareTail(
  engine: Engine,
  last: number,
  result: ScanResult,
  durable: boolean,
): FileHandle {
  const { fs, dataDir } = engine;
  const lastPath = joinPath(dataDir, segmentName(last));
  try {
    if (result.endOffset === 0) {
      // The last segment's header never landed (an older version's interrupted rotation).
      fs.remove(lastPath);
      fs.syncDir(dataDir);
      const h = createSegment(fs, dataDir, last);
      result.endOffset = SEGMENT_HEADER_BYTES;
      return h;
    }
    const h = fs.open(lastPath, { read: true, write: true });
    if (durable) return h;
    if (result.truncatedBytes > 0) h.truncate(result.endOffset);
    // Everything recovered counts as durable, but a process that died after a failed fsync
    // leaves its last frames, and the directory entry of a segment whose creation failed
    // before its syncDir, only in the page cache: make them durable now, or acknowledged
    // appends to that segment vanish in the next power loss (regression: tests/sim_test.ts,
    // seed 1135).
    h.syncData();
    fs.syncDir(dataDir);
    return h;
  } catch (e) {
    throw storageError(e, "recover", lastPath);
  }
}

function startWriter(engine: Engine, segment: number, handle: FileHandle, size: number): void {
  const s = engine.settings;
  const writer = new LogWriter(
    { fs: engine.fs, dataDir: s.dataDir, segmentMaxBytes: s.segmentMaxBytes, syncMode: s.syncMode },
    segment,
    handle,
    size,
    engine.index.count,
    (next, sealedSize) => {
      engine.segments.push(next);
      const f = engine.lastFrame;
      if (f.segment === next - 1) engine.sealed(next - 1, sealedSize, f.offset, f.crc);
      engine.maybeCheckpoint();
    },
  );
  engine.writer = writer;
  engine.end = writer;
  engine.reader.attach(writer);
}

function report(
  path: OpenReport["path"],
  restoredEntries: number,
  engine: Engine,
  started: number,
  truncatedBytes: number,
  rejectedSidecars: string[],
): OpenReport {
  return {
    path,
    restoredEntries,
    tailEntries: engine.index.count - restoredEntries,
    elapsedMs: performance.now() - started,
    truncatedBytes,
    rejectedSidecars,
  };
}

export type { SealedSegment };
