/**
 * src/core/crc32.ts against `node:zlib`'s crc32 (native, SIMD for inputs of
 * 64 bytes and more), one group per input size, node:zlib the baseline:
 *
 *   deno bench -A bench/crc32_bench.ts
 *
 * The "200 B" group is the cost per 200-byte frame; the "frame check" group
 * checks 200-byte frames in place in a 1 MiB segment the way the frame reader
 * does (through a subarray, or with crc32Range and none); the last group is a
 * read's run of frames, checked one by one or all in one crc32Ranges call
 * (WebAssembly).
 */

import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, crc32Range } from "../src/core/crc32.ts";
import { crc32Ranges } from "../src/core/crc32_ranges.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const SIZES: Array<[label: string, bytes: number]> = [
  ["60 B", 60],
  ["200 B", 200],
  ["1 KiB", KIB],
  ["64 KiB", 64 * KIB],
  ["1 MiB", MIB],
];
/** Bytes of one frame in the frame-check group. */
const FRAME_BYTES = 200;
/** A frame's leading crc field; the checksum covers the rest of the frame. */
const FRAME_CRC_BYTES = 4;
/** The most bytes crypto.getRandomValues fills per call. */
const RANDOM_CHUNK_BYTES = 65_536;
/** Frames sit at arbitrary, mostly unaligned offsets in a segment. */
const UNALIGNED_OFFSET = 3;

const segment = new Uint8Array(MIB + UNALIGNED_OFFSET);
for (let at = 0; at < segment.length; at += RANDOM_CHUNK_BYTES) {
  crypto.getRandomValues(segment.subarray(at, at + RANDOM_CHUNK_BYTES));
}

let sink = 0; // every result is folded in, so no call is dead code

for (const [label, bytes] of SIZES) {
  const data = segment.subarray(UNALIGNED_OFFSET, UNALIGNED_OFFSET + bytes);
  if (crc32(data) !== zlibCrc32(data)) throw new Error(`crc32 differs from node:zlib at ${label}`);
  Deno.bench(`node:zlib crc32, ${label}`, { group: label, baseline: true }, () => {
    sink ^= zlibCrc32(data);
  });
  Deno.bench(`crc32.ts crc32, ${label}`, { group: label }, () => {
    sink ^= crc32(data);
  });
}

// Frame check: walk the segment frame by frame, one frame per iteration.
const framesInSegment = Math.floor((segment.length - UNALIGNED_OFFSET) / FRAME_BYTES);
let frameIndex = 0;
function nextFrameAt(): number {
  frameIndex = frameIndex + 1 === framesInSegment ? 0 : frameIndex + 1;
  return UNALIGNED_OFFSET + frameIndex * FRAME_BYTES;
}
const FRAME_GROUP = "frame check, 200 B frames in a 1 MiB segment";
Deno.bench("node:zlib crc32(subarray)", { group: FRAME_GROUP, baseline: true }, () => {
  const at = nextFrameAt();
  sink ^= zlibCrc32(segment.subarray(at + FRAME_CRC_BYTES, at + FRAME_BYTES));
});
Deno.bench("crc32.ts crc32(subarray)", { group: FRAME_GROUP }, () => {
  const at = nextFrameAt();
  sink ^= crc32(segment.subarray(at + FRAME_CRC_BYTES, at + FRAME_BYTES));
});
Deno.bench("crc32.ts crc32Range (no subarray)", { group: FRAME_GROUP }, () => {
  const at = nextFrameAt();
  sink ^= crc32Range(segment, at + FRAME_CRC_BYTES, at + FRAME_BYTES);
});

// A read's run: 256 frames of ~100 B checked one by one, or in one crc32Ranges call (the
// WebAssembly loop after one copy of the run; what reads, scans and verify do).
const RUN_FRAMES = 256;
const RUN_FRAME_BYTES = 101;
const runBounds = new Int32Array(2 * RUN_FRAMES);
for (let k = 0; k < RUN_FRAMES; k++) {
  runBounds[2 * k] = UNALIGNED_OFFSET + k * RUN_FRAME_BYTES + FRAME_CRC_BYTES;
  runBounds[2 * k + 1] = UNALIGNED_OFFSET + (k + 1) * RUN_FRAME_BYTES;
}
const runCrcs = new Uint32Array(RUN_FRAMES);
const RUN_GROUP = `a run of ${RUN_FRAMES} frames of ${RUN_FRAME_BYTES} B`;
Deno.bench("crc32Range per frame", { group: RUN_GROUP, baseline: true }, () => {
  for (let k = 0; k < RUN_FRAMES; k++) {
    sink ^= crc32Range(segment, runBounds[2 * k], runBounds[2 * k + 1]);
  }
});
Deno.bench("crc32Ranges, one call (WebAssembly)", { group: RUN_GROUP }, () => {
  crc32Ranges(segment, runBounds, RUN_FRAMES, runCrcs);
  sink ^= runCrcs[RUN_FRAMES - 1];
});
