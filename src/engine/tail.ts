/**
 * Following a log another process writes (a store opened `readOnly`): the
 * end of the log as last seen, and {@linkcode refreshFollower}, which reads
 * what was appended since.
 *
 * A follower must take every intermediate state a live writer leaves in
 * stride: a frame or batch still being written (not read yet, tried again
 * next time), a segment created while the directory was being listed (new
 * segments are found by name, never by a listing, so none is "missing"),
 * and a sealed segment's bytes beyond where this follower stopped.
 *
 * @module
 */

import { joinPath } from "../fs/path.ts";
import { scanLog } from "../log/recovery.ts";
import { SEGMENT_HEADER_BYTES, segmentName } from "../log/segment.ts";
import type { LogEnd } from "../log/writer.ts";
import type { Engine } from "./engine.ts";
import { replaySink } from "./replay.ts";

/** The end of a log this process only reads. */
export class FollowedLog implements LogEnd {
  segment: number;
  size: number;
  constructor(segment: number, size: number) {
    this.segment = segment;
    this.size = size;
  }
  get flushed(): number {
    return this.size;
  }
  readBuffered(): Uint8Array | undefined {
    return undefined;
  }
}

/** Read the events appended since the last look; returns how many arrived. */
export function refreshFollower(engine: Engine): number {
  const end = engine.end as FollowedLog;
  const index = engine.index;
  const before = index.count;
  // New segments by name: a listing could miss one created while it ran.
  let last = engine.segments[engine.segments.length - 1];
  while (engine.fs.stat(joinPath(engine.dataDir, segmentName(last + 1))) !== undefined) {
    engine.segments.push(++last);
  }
  const result = scanLog(
    engine.fs,
    engine.dataDir,
    engine.segments,
    {
      segment: end.segment,
      offset: end.size,
      lastFrameOffset: engine.lastFrame.segment === end.segment ? engine.lastFrame.offset : 0,
      lastFrameCrc: engine.lastFrame.segment === end.segment ? engine.lastFrame.crc : 0,
    },
    replaySink(engine),
    index.count + 1,
    true, // the writer may be writing what this reads
  );
  end.segment = result.lastSegment;
  end.size = Math.max(result.endOffset, SEGMENT_HEADER_BYTES);
  if (index.count > before) engine.notify();
  return index.count - before;
}
