/**
 * `Store.snapshot`: a consistent point-in-time copy.
 *
 * The copy runs synchronously, so no append can interleave: it holds
 * exactly the events visible when it was called. The writer's buffer is
 * handed to the OS first (no fsync of the source is needed for a copy),
 * then every segment is copied up to its logical end (the active segment
 * stops at the writer's end, before any zeroed preallocation), each copy is
 * fsynced, and an index image covering the copy is written beside it, so
 * the snapshot opens without a scan. On failure the files written so far
 * are removed and the error is rethrown.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { IMAGE_FILE, saveSidecar } from "../index/sidecar.ts";
import { frameCrcAt } from "../log/frame.ts";
import { segmentName } from "../log/segment.ts";
import { CorruptSegmentError, InvalidArgumentError } from "../core/errors.ts";
import type { StoreInternals } from "../store/store.ts";

/** Bytes copied per read/write. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;

/** Copy the store into `destDir`, which must not exist or be an empty directory. */
export function snapshotStore(s: StoreInternals, destDir: string): void {
  if (typeof destDir !== "string" || destDir.length === 0) {
    throw new InvalidArgumentError(
      `snapshot: destDir must be a non-empty string, found ${String(destDir)}`,
    );
  }
  if (resolve(destDir) === resolve(s.dataDir)) {
    throw new InvalidArgumentError("snapshot: destDir must not be the store's own directory");
  }
  const fs = s.fs;
  const info = fs.stat(destDir);
  if (info && (!info.isDirectory || fs.readDir(destDir).length > 0)) {
    throw new InvalidArgumentError(`snapshot: ${destDir} must not exist or be an empty directory`);
  }
  const writer = s.writer();
  writer.flush();
  fs.mkdir(destDir);
  const written: string[] = [];
  try {
    const buf = new Uint8Array(SNAPSHOT_CHUNK_BYTES);
    for (const n of [...s.segments()]) {
      const name = segmentName(n);
      const srcPath = join(s.dataDir, name);
      const end = n === writer.segment ? writer.size : (fs.stat(srcPath)?.size ?? 0);
      const src = fs.open(srcPath, { read: true });
      try {
        const dstPath = join(destDir, name);
        const dst = fs.open(dstPath, { write: true, createNew: true });
        written.push(dstPath);
        try {
          for (let at = 0; at < end;) {
            const got = src.read(buf.subarray(0, Math.min(SNAPSHOT_CHUNK_BYTES, end - at)), at);
            if (got <= 0) {
              throw new CorruptSegmentError(name, at, `segment ends at ${at}, expected ${end}`);
            }
            dst.write(buf.subarray(0, got), at);
            at += got;
          }
          dst.syncData();
        } finally {
          dst.close();
        }
      } finally {
        src.close();
      }
    }
    const index = s.index;
    if (index.count > 0) {
      const last = index.location(index.count);
      // Coverage names the last event's frame; a batch commit marker after it is still covered by endOffset.
      const frame = s.readRawFrame(index.count);
      const coverage = {
        segment: writer.segment,
        endOffset: writer.size,
        lastFrameSegment: last.segment,
        lastFrameOffset: last.offset,
        lastFrameCrc: frameCrcAt(frame, 0),
      };
      written.push(join(destDir, IMAGE_FILE + ".tmp"), join(destDir, IMAGE_FILE));
      saveSidecar(fs, destDir, "image", index, coverage, s.system.toPlain());
    }
    fs.syncDir(destDir);
  } catch (e) {
    for (const path of written) {
      try {
        fs.remove(path);
      } catch { /* best effort */ }
    }
    throw e;
  }
}
