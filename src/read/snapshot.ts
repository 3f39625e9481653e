/**
 * `Store.snapshot`: a consistent point-in-time copy. The writer is flushed
 * and synced, then every segment is copied up to the current end (the copy
 * is synchronous, so no append can interleave), and an index image is
 * written beside it so the copy opens fast.
 *
 * @module
 */

import { join } from "node:path";
import { encodeSidecar, IMAGE_FILE, writeSidecar } from "../index/sidecar.ts";
import { frameCrcAt } from "../log/frame.ts";
import { segmentName } from "../log/segment.ts";
import { InvalidArgumentError } from "../store/errors.ts";
import type { StoreInternals } from "../store/store.ts";

const COPY_CHUNK_BYTES = 1 << 20;

/** Copy the store into `destDir`, which must not exist or be empty. */
export function snapshotStore(s: StoreInternals, destDir: string): void {
  if (typeof destDir !== "string" || destDir.length === 0) {
    throw new InvalidArgumentError(
      `snapshot: destDir must be a non-empty string, found ${String(destDir)}`,
    );
  }
  const fs = s.fs;
  const info = fs.stat(destDir);
  if (info && (!info.isDirectory || fs.readDir(destDir).length > 0)) {
    throw new InvalidArgumentError(`snapshot: ${destDir} must not exist or be an empty directory`);
  }
  const writer = s.writer();
  writer.syncNow();
  fs.mkdir(destDir);
  const segments = [...s.segments()];
  const buf = new Uint8Array(COPY_CHUNK_BYTES);
  for (const n of segments) {
    const name = segmentName(n);
    const end = n === writer.segment ? writer.size : (fs.stat(join(s.dataDir, name))?.size ?? 0);
    const src = fs.open(join(s.dataDir, name), { read: true });
    const dst = fs.open(join(destDir, name), { write: true, createNew: true });
    try {
      for (let at = 0; at < end;) {
        const want = Math.min(COPY_CHUNK_BYTES, end - at);
        const got = src.read(buf.subarray(0, want), at);
        if (got <= 0) throw new Error(`snapshot: ${name} ended at ${at}, expected ${end}`);
        dst.write(buf.subarray(0, got), at);
        at += got;
      }
      dst.syncData();
    } finally {
      src.close();
      dst.close();
    }
  }
  const index = s.index;
  if (index.count > 0) {
    const loc = index.location(index.count);
    // The last frame may be a batch commit marker after the last event; cover the event itself.
    const frame = s.readRawFrame(index.count);
    const coverage = {
      segment: writer.segment,
      endOffset: writer.size,
      lastFrameSegment: loc.segment,
      lastFrameOffset: loc.offset,
      lastFrameCrc: frameCrcAt(frame, 0),
    };
    writeSidecar(
      fs,
      destDir,
      IMAGE_FILE,
      encodeSidecar("image", index, coverage, s.system.toPlain()),
    );
  }
  fs.syncDir(destDir);
}
