/**
 * A reader beside a live writer: a read that overlaps one of the writer's
 * writes can see a later page of it and not the page before (both copies go
 * page by page, side by side). One CI run of `cli verify` beside a writer
 * failed that way ("bad_magic …, and a valid frame continuing the log
 * follows …: this is corruption"). A read-only open and a follower's
 * `refresh()` read such a fault again before it counts; damage that is
 * really there still fails closed, after a bounded number of re-reads; a
 * writable open (which holds the lock: nobody else writes) never re-reads.
 */

import assert from "node:assert/strict";
import { Coordinate, CorruptSegmentError, EventKind, Store, type StoreReader } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import type { FileHandle, FileSystem } from "../../src/fs/types.ts";
import { FOLLOW_REREADS_MAX } from "../../src/log/recovery.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

const DIR = "/db";
const SEG1 = `${DIR}/000001.fbat`;
const KIND = EventKind.custom(1, 1);
const coord = new Coordinate("acct:1", "bank");

/**
 * `mem` as a FileSystem whose reads of `path` show zeros in `[from, to)` —
 * what a read that overlapped the write of those bytes saw — for the next
 * `times` reads that cover the range (`Infinity`: damage that is there).
 */
class HalfSeenWrite implements FileSystem {
  reads = 0;
  shown = 0;
  times = 0;
  from = 0;
  to = 0;
  constructor(readonly mem: MemoryFileSystem, readonly path: string) {}

  hide(from: number, to: number, times: number): void {
    Object.assign(this, { from, to, times, shown: 0, reads: 0 });
  }

  open(path: string, options: Parameters<FileSystem["open"]>[1]): FileHandle {
    const h = this.mem.open(path, options);
    if (path !== this.path) return h;
    const read = (buf: Uint8Array, position: number): number => {
      const n = h.read(buf, position);
      const lo = Math.max(this.from, position);
      const hi = Math.min(this.to, position + n);
      if (lo < hi) {
        this.reads++;
        if (this.shown < this.times) {
          this.shown++;
          buf.fill(0, lo - position, hi - position);
        }
      }
      return n;
    };
    return new Proxy(h, {
      get: (t, k) => {
        if (k === "read") return read;
        const v = Reflect.get(t, k, t);
        return typeof v === "function" ? v.bind(t) : v; // its methods use private fields
      },
    });
  }
  stat(path: string) {
    return this.mem.stat(path);
  }
  readDir(path: string) {
    return this.mem.readDir(path);
  }
  mkdir(path: string) {
    return this.mem.mkdir(path);
  }
  rename(from: string, to: string) {
    return this.mem.rename(from, to);
  }
  remove(path: string) {
    return this.mem.remove(path);
  }
  syncDir(path: string) {
    return this.mem.syncDir(path);
  }
  lockDir(path: string) {
    return this.mem.lockDir(path);
  }
}

/** A writer (kept open, never closed: no sidecar) with `n` events, and the byte range of event `g`. */
function liveWriter(n: number, g: number) {
  const mem = new MemoryFileSystem();
  const writer = Store.open({ dataDir: DIR, fs: mem });
  for (let i = 0; i < n; i++) writer.append(coord, KIND, { i, pad: "x".repeat(40) });
  writer.sync();
  const loc = storeInternals(writer).index.location(g);
  const fs = new HalfSeenWrite(mem, SEG1);
  return { mem, writer, fs, from: loc.offset + 20, to: loc.offset + 60 };
}

Deno.test("follow race: a read-only open reads a half-seen write again and gets every event", () => {
  const { writer, fs, from, to } = liveWriter(200, 120);
  fs.hide(from, to, 1);
  const reader = Store.open({ dataDir: DIR, fs, readOnly: true });
  assert.equal(fs.shown, 1, "the first read saw the hole");
  assert.equal(reader.diagnostics().events, 200);
  assert.deepEqual(reader.readStream("acct:1").map((e) => (e.payload as { i: number }).i), [
    ...Array(200).keys(),
  ]);
  assert.equal(reader.verify().ok, true);
  reader.close();
  writer.close();
});

Deno.test("follow race: refresh() reads a half-seen write again and gets every new event", () => {
  const { mem, writer, fs } = liveWriter(50, 1);
  fs.hide(0, 0, 0);
  const reader: StoreReader = Store.open({ dataDir: DIR, fs, readOnly: true });
  assert.equal(reader.diagnostics().events, 50);
  for (let i = 50; i < 150; i++) writer.append(coord, KIND, { i, pad: "x".repeat(40) });
  writer.sync();
  const loc = storeInternals(writer).index.location(90);
  fs.hide(loc.offset + 20, loc.offset + 60, 1);
  assert.equal(reader.refresh(), 100);
  assert.equal(fs.shown, 1);
  assert.equal(reader.lastSequence("acct:1"), 150);
  assert.equal(reader.verify().ok, true);
  reader.close();
  writer.close();
  void mem;
});

Deno.test("follow race: damage that is really there fails a read-only open closed, after bounded re-reads", () => {
  const { writer, fs, from, to } = liveWriter(200, 120);
  fs.hide(from, to, Infinity);
  throwsType(
    () => Store.open({ dataDir: DIR, fs, readOnly: true }),
    CorruptSegmentError,
    /a valid frame continuing the log follows/,
  );
  assert.equal(fs.reads, 1 + FOLLOW_REREADS_MAX, "the first read and each re-read");
  writer.close();
});

Deno.test("follow race: a writable open never re-reads (it holds the lock: nobody else writes)", () => {
  const { writer, fs, from, to } = liveWriter(200, 120);
  writer.close(); // writes the image: remove it so the open scans the log
  fs.mem.remove(`${DIR}/index.img`);
  fs.mem.remove(`${DIR}/index.ckpt`);
  fs.hide(from, to, 1);
  throwsType(() => Store.open({ dataDir: DIR, fs }), CorruptSegmentError, /corruption/);
  assert.equal(fs.reads, 1);
});
