/**
 * `Store.snapshot`: a consistent point-in-time copy that opens as a store —
 * and only once it is complete.
 *
 * The copy runs synchronously, so no append can interleave: it holds
 * exactly the events visible when it was called. The writer's buffer is
 * handed to the OS first, then every segment is copied up to its logical
 * end (the active segment stops at the writer's end, before any zeroed
 * preallocation), each copy is fsynced, the saved cursor positions are
 * copied, and an index image covering the copy is written beside it, so
 * the snapshot opens without a scan.
 *
 * Completeness: a marker file (`SNAPSHOT-INCOMPLETE`) is
 * written (and synced) before the first byte is copied and removed only
 * after the last, and `Store.open` refuses a directory holding it. A
 * snapshot killed mid-copy therefore never opens as a shorter store. On an
 * error the copied files are removed, the marker last.
 *
 * @module
 */

import { CorruptSegmentError, InvalidArgumentError, StoreError } from "../core/errors.ts";
import type { Engine } from "../engine/engine.ts";
import { SNAPSHOT_INCOMPLETE_FILE } from "../engine/open.ts";
import { joinPath, parentPath } from "../fs/path.ts";
import type { FileSystem } from "../fs/types.ts";
import { IMAGE_FILE, saveSidecar } from "../index/sidecar.ts";
import { segmentName } from "../log/segment.ts";
import { storageError } from "../log/writer.ts";

/** Bytes copied per read/write. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
const MARKER_TEXT = new TextEncoder().encode(
  "A snapshot of a batpak store is being written here, or its writing was interrupted.\n" +
    "The directory does not hold the whole store: delete it and take the snapshot again.\n",
);

/** A file kept beside the log by a layer above the engine (the kind names), copied too. */
export interface BesideFile {
  /** Its name in the store directory. */
  readonly file: string;
  /** Write it into `dir` (nothing when there is nothing to keep). */
  copyTo(fs: FileSystem, dir: string): unknown;
}

/**
 * Copy the store into `destDir`, which must not exist or be an empty
 * directory, with the `beside` files.
 */
export function snapshotStore(
  engine: Engine,
  destDir: string,
  beside: readonly BesideFile[] = [],
): void {
  if (typeof destDir !== "string" || destDir.length === 0 || destDir.includes("\0")) {
    throw new InvalidArgumentError(
      `snapshot: destDir must be a non-empty path string, found ${String(destDir)}`,
    );
  }
  const fs = engine.fs;
  const info = fs.stat(destDir);
  if (info && (!info.isDirectory || fs.readDir(destDir).length > 0)) {
    throw new InvalidArgumentError(`snapshot: ${destDir} must not exist or be an empty directory`);
  }
  const end = engine.end;
  engine.writer?.flush();
  const written: string[] = [];
  const marker = joinPath(destDir, SNAPSHOT_INCOMPLETE_FILE);
  let markerWritten = false;
  try {
    fs.mkdir(destDir);
    const m = fs.open(marker, { write: true, createNew: true });
    markerWritten = true;
    try {
      m.write(MARKER_TEXT, 0);
      m.syncData();
    } finally {
      m.close();
    }
    fs.syncDir(destDir);
    try {
      fs.syncDir(parentPath(destDir));
    } catch { /* a relative or root path: the directory itself is synced above */ }
    const buf = new Uint8Array(SNAPSHOT_CHUNK_BYTES);
    for (const n of [...engine.segments]) {
      if (n > end.segment) break;
      const name = segmentName(n);
      const srcPath = joinPath(engine.dataDir, name);
      const size = n === end.segment ? end.size : (fs.stat(srcPath)?.size ?? 0);
      const src = fs.open(srcPath, { read: true });
      try {
        const dstPath = joinPath(destDir, name);
        const dst = fs.open(dstPath, { write: true, createNew: true });
        written.push(dstPath);
        try {
          for (let at = 0; at < size;) {
            const got = src.read(buf.subarray(0, Math.min(SNAPSHOT_CHUNK_BYTES, size - at)), at);
            if (got <= 0) {
              throw new CorruptSegmentError(name, at, `segment ends at ${at}, expected ${size}`);
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
    written.push(joinPath(destDir, "cursors.dat"));
    engine.cursors.copyTo(fs, destDir);
    for (const b of beside) {
      written.push(joinPath(destDir, b.file));
      b.copyTo(fs, destDir);
    }
    const index = engine.index;
    if (index.count > 0) {
      written.push(joinPath(destDir, IMAGE_FILE + ".tmp"), joinPath(destDir, IMAGE_FILE));
      const sealed = engine.segments.filter((n) => n < end.segment).map((n) =>
        engine.sealedSegments.get(n) ?? { size: 0, lastFrameOffset: 0, lastFrameCrc: 0 }
      );
      saveSidecar(
        fs,
        destDir,
        "image",
        index,
        engine.coverage(),
        engine.system.toPlain(),
        sealed,
      );
    }
    fs.syncDir(destDir);
    // Complete: only now may it open as a store.
    fs.remove(marker);
    fs.syncDir(destDir);
  } catch (e) {
    let allRemoved = true;
    for (const path of written) {
      try {
        fs.remove(path);
      } catch {
        allRemoved = false; // the marker stays: what is left will not open as a store
      }
    }
    if (markerWritten && allRemoved) {
      try {
        fs.remove(marker);
        fs.syncDir(destDir);
      } catch { /* the marker stays: the directory will not open as a store */ }
    }
    throw e instanceof StoreError ? e : storageError(e, "snapshot", destDir);
  }
}
