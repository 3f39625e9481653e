/**
 * Segment format versions: this code writes event format 2 only into
 * segments whose header says version 2, so a version-1 reader (which takes
 * frames it cannot parse at the end of the last segment for a torn tail,
 * and cuts them) refuses such a segment instead. Version-1 segments are
 * still read, and left byte for byte as they are.
 */

import assert from "node:assert/strict";
import { Coordinate, Store } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { FRAME_HEADER_BYTES, FrameKind, parseFrame } from "../../src/log/frame.ts";
import {
  checkSegmentHeader,
  encodeSegmentHeader,
  FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  segmentVersion,
} from "../../src/log/segment.ts";
import { DIR, KIND_A, reopen } from "../fixtures/store_helpers.ts";

const FIXTURE = new URL("../fixtures/format1_store/", import.meta.url);

/** The format-1 fixture store (written by commit 6a813d4) in a fresh memory file system. */
function format1Store(): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  fs.mkdir(DIR);
  for (const entry of Deno.readDirSync(FIXTURE)) {
    if (entry.name.endsWith(".md")) continue;
    fs.writeFile(`${DIR}/${entry.name}`, Deno.readFileSync(new URL(entry.name, FIXTURE)));
  }
  return fs;
}

function segmentFiles(fs: MemoryFileSystem): string[] {
  return fs.listFiles().filter((p) => p.endsWith(".fbat")).sort();
}

/** Frame kinds in a segment file, in order (the file must be whole). */
function frameKinds(bytes: Uint8Array): number[] {
  const kinds: number[] = [];
  let at = SEGMENT_HEADER_BYTES;
  while (at + FRAME_HEADER_BYTES <= bytes.length) {
    const frame = parseFrame(bytes, at);
    if (typeof frame === "string") break;
    kinds.push(frame.kind);
    at += frame.frameLength;
  }
  return kinds;
}

/** Every segment holding a format-2 event frame says version 2 in its header. */
function assertFormat2OnlyInVersion2(fs: MemoryFileSystem): void {
  for (const path of segmentFiles(fs)) {
    const bytes = fs.readFile(path);
    if (frameKinds(bytes).includes(FrameKind.Event2)) {
      assert.equal(segmentVersion(bytes), 2, `${path} holds format-2 events under a v1 header`);
    }
  }
}

Deno.test("segment format: version 1 and 2 headers are read; 0 and 3 are refused", () => {
  assert.equal(FORMAT_VERSION, 2);
  for (const version of [1, 2]) {
    const h = encodeSegmentHeader(7, version);
    assert.equal(checkSegmentHeader(h, 7), undefined);
    assert.equal(segmentVersion(h), version);
  }
  for (const version of [0, 3]) {
    assert.match(checkSegmentHeader(encodeSegmentHeader(7, version), 7) ?? "", /format version/);
  }
  assert.equal(segmentVersion(encodeSegmentHeader(1)), 2);
});

Deno.test("segment format: appending to a version-1 store seals its last segment as it is and writes on in a version-2 one", () => {
  const fs = format1Store();
  const before = new Map(segmentFiles(fs).map((p) => [p, fs.readFile(p).slice()]));
  assert.ok(before.size >= 2);
  for (const bytes of before.values()) assert.equal(segmentVersion(bytes), 1);
  const store = reopen(fs);
  const events = store.diagnostics().events;
  const receipt = store.append(new Coordinate("v1:1", "old"), KIND_A, { after: "upgrade" });
  store.close();
  // The old segments are untouched, byte for byte; the new event is in a new version-2 segment.
  for (const [path, bytes] of before) assert.deepEqual(fs.readFile(path), bytes, path);
  const files = segmentFiles(fs);
  assert.equal(files.length, before.size + 1);
  const added = fs.readFile(files[files.length - 1]);
  assert.equal(segmentVersion(added), 2);
  assert.deepEqual(frameKinds(added), [FrameKind.Event2]);
  assertFormat2OnlyInVersion2(fs);
  const again = reopen(fs);
  assert.equal(again.diagnostics().events, events + 1);
  assert.deepEqual(again.get(receipt.eventId).payload, { after: "upgrade" });
  assert.deepEqual(again.verify().problems, []);
  again.close();
});

Deno.test("segment format: a read-only open of a version-1 store changes no file", () => {
  const fs = format1Store();
  const before = new Map(fs.listFiles().map((p) => [p, fs.readFile(p).slice()]));
  const store = Store.open({ dataDir: DIR, fs, readOnly: true });
  assert.ok(store.diagnostics().events > 0);
  store.close();
  assert.deepEqual(fs.listFiles().sort(), [...before.keys()].sort());
  for (const [path, bytes] of before) assert.deepEqual(fs.readFile(path), bytes, path);
});

Deno.test("segment format: an empty version-1 last segment is replaced by a version-2 one before the first write", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({
    dataDir: DIR,
    fs,
    enableSidecarImage: false,
    enableCheckpoint: false,
  });
  store.close();
  // What an older version leaves: a store whose only segment has a version-1 header and no frame.
  fs.writeFile(`${DIR}/000001.fbat`, encodeSegmentHeader(1, 1));
  const again = reopen(fs);
  assert.equal(segmentVersion(fs.readFile(`${DIR}/000001.fbat`)), 2);
  again.append(new Coordinate("e", "s"), KIND_A, 1);
  again.close();
  assert.deepEqual(segmentFiles(fs), [`${DIR}/000001.fbat`]);
  assertFormat2OnlyInVersion2(fs);
  const third = reopen(fs);
  assert.equal(third.diagnostics().events, 1);
  third.close();
});

Deno.test("segment format: a crash at any operation of the upgrade loses nothing and leaves no format-2 frame under a version-1 header", () => {
  const events = reopen(format1Store()).diagnostics().events;
  // How many file operations open + one append + close take.
  let total = 0;
  {
    const fs = format1Store();
    fs.setFaultInjector(() => (total++, undefined));
    const store = reopen(fs);
    store.append(new Coordinate("v1:2", "old"), KIND_A, "new");
    store.close();
  }
  assert.ok(total > 10, `${total} operations`);
  for (let k = 0; k < total; k++) {
    for (const torn of [false, true]) {
      const fs = format1Store();
      let seen = 0;
      // From operation k on, the process is dead: every operation fails.
      fs.setFaultInjector(() => (seen++ < k ? undefined : { error: "EIO" }));
      try {
        const store = reopen(fs);
        store.append(new Coordinate("v1:2", "old"), KIND_A, "new");
        store.close();
      } catch { /* the dying process */ }
      const after = fs.crash({ tornWrites: torn, seed: k });
      const where = `crash at operation ${k}, torn ${torn}`;
      assertFormat2OnlyInVersion2(after);
      const store = reopen(after);
      const n = store.diagnostics().events;
      assert.ok(n === events || n === events + 1, `${where}: ${n} events`);
      assert.deepEqual(store.verify().problems, [], where);
      store.close();
      assertFormat2OnlyInVersion2(after);
    }
  }
});
