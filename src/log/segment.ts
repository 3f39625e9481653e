/**
 * Segment files: `NNNNNN.fbat` in the data directory, each starting with a
 * 16-byte header.
 *
 * ```
 * offset size field
 * 0      4    magic "FBAT"
 * 4      2    format version (1 or 2), little-endian
 * 6      2    reserved (0)
 * 8      4    segment number, little-endian
 * 12     4    crc32 of bytes 0..12
 * ```
 *
 * Version 2 marks a segment that may hold frames of event format 2 (frame
 * kind 4). This code writes only into version-2 segments (a writable open
 * whose last segment says version 1 moves on to a new segment first), so a
 * reader of version 1 refuses such a segment — it fails closed — instead of
 * taking frames it cannot parse for a torn tail and cutting them. It reads
 * both versions.
 *
 * @module
 */

import { crc32 } from "../core/crc32.ts";

/** Bytes of the segment header. */
export const SEGMENT_HEADER_BYTES = 16;
/** Segment format version written by this code. */
export const FORMAT_VERSION = 2;
/** Oldest segment format version this code reads. */
export const FORMAT_VERSION_MIN = 1;
/** Segment file extension. */
export const SEGMENT_EXTENSION = ".fbat";
/** Highest segment number (six digits in the name; the header holds 32 bits). */
export const SEGMENT_NUMBER_MAX = 0xffffffff;

const MAGIC = [0x46, 0x42, 0x41, 0x54]; // "FBAT"
const SEGMENT_NAME = /^(\d{6,10})\.fbat$/;

/** Suffix of a segment (or sidecar) being written: renamed into place once complete. */
export const TMP_SUFFIX = ".tmp";

/** File name of segment `n`. */
export function segmentName(n: number): string {
  return String(n).padStart(6, "0") + SEGMENT_EXTENSION;
}

/**
 * Segment number of a file name, or `undefined` when it is not a segment:
 * only the canonical name counts (`000003.fbat`, never `0000003.fbat`), so a
 * renamed copy is a stray file, not a second segment 3.
 */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return segmentName(n) === name ? n : undefined;
}

/** Build the header of segment `n` (format `version`, by default the one this code writes). */
export function encodeSegmentHeader(n: number, version: number = FORMAT_VERSION): Uint8Array {
  const h = new Uint8Array(SEGMENT_HEADER_BYTES);
  h.set(MAGIC, 0);
  const dv = new DataView(h.buffer);
  dv.setUint16(4, version, true);
  dv.setUint32(8, n, true);
  dv.setUint32(12, crc32(h.subarray(0, 12)), true);
  return h;
}

/** The format version of a segment header that {@linkcode checkSegmentHeader} accepted. */
export function segmentVersion(h: Uint8Array): number {
  return h[4] | (h[5] << 8);
}

/** True when `bytes` (a segment's first bytes) are a header that never landed: empty or zeros. */
export function neverWritten(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

/** Check a segment header; returns a problem description or `undefined` when valid. */
export function checkSegmentHeader(h: Uint8Array, n: number): string | undefined {
  if (h.length < SEGMENT_HEADER_BYTES) {
    return `header is ${h.length} bytes, expected ${SEGMENT_HEADER_BYTES}`;
  }
  for (let i = 0; i < 4; i++) if (h[i] !== MAGIC[i]) return "bad magic (not a segment file)";
  const dv = new DataView(h.buffer, h.byteOffset, SEGMENT_HEADER_BYTES);
  if (dv.getUint32(12, true) !== crc32(h.subarray(0, 12))) return "header crc mismatch";
  const version = dv.getUint16(4, true);
  if (version < FORMAT_VERSION_MIN || version > FORMAT_VERSION) {
    return `format version ${version}, this code reads ${FORMAT_VERSION_MIN} to ${FORMAT_VERSION}`;
  }
  const number = dv.getUint32(8, true);
  if (number !== n) return `header says segment ${number}, file name says ${n}`;
  return undefined;
}
