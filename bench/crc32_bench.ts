/**
 * src/core/crc32.ts against `node:zlib`'s crc32 (native, SIMD for inputs of
 * 64 bytes and more), one group per input size, node:zlib the baseline:
 *
 *   deno bench -A bench/crc32_bench.ts
 *
 * The "200 B" group is the cost per 200-byte frame; the "frame check" group
 * checks 200-byte frames in place in a 1 MiB segment the way the frame reader
 * does (through a subarray, or with crc32Range and none).
 */

import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, crc32Range } from "../src/core/crc32.ts";

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
