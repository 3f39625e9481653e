/**
 * Reading segment (and sidecar) files whole or in part through the storage
 * port.
 *
 * @module
 */

import type { FileHandle, FileSystem } from "../fs/types.ts";
import { SEGMENT_HEADER_BYTES } from "./segment.ts";

/** Read a whole file (or from `from`) into memory. */
export function readWhole(fs: FileSystem, path: string, from = 0): Uint8Array {
  const h = fs.open(path, { read: true });
  try {
    const size = h.size();
    const buf = new Uint8Array(Math.max(0, size - from));
    let got = 0;
    while (got < buf.length) {
      const n = h.read(buf.subarray(got), from + got);
      if (n <= 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } finally {
    h.close();
  }
}

/**
 * One past the last non-zero byte of `buf`, or `floor` when every byte from
 * `floor` on is zero (what lies before `floor` is not looked at: a scan that
 * resumed at `floor` has a zero-filled gap there, and walking it would touch
 * every page of it).
 */
export function dataEnd(buf: Uint8Array, floor = 0): number {
  let end = buf.length;
  // Word-wise over the aligned middle: the zeroed preallocation can be a megabyte.
  while (end > floor && (end & 7) !== 0 && buf[end - 1] === 0) end--;
  if (end > floor && (end & 7) === 0 && (buf.byteOffset & 7) === 0) {
    const words = new BigUint64Array(buf.buffer, buf.byteOffset, end >>> 3);
    const lowest = Math.ceil(floor / 8);
    let w = words.length;
    while (w > lowest && words[w - 1] === 0n) w--;
    end = w * 8;
  }
  while (end > floor && buf[end - 1] === 0) end--;
  return Math.max(end, floor);
}

/**
 * A segment's header and its bytes from `from` on, at their file offsets in a
 * buffer of the file's size (the skipped middle stays zero and, allocated
 * lazily by the OS, costs no memory): a scan that resumes mid-segment reads
 * only what it needs.
 */
export function readTail(fs: FileSystem, path: string, from: number): Uint8Array {
  const h = fs.open(path, { read: true });
  try {
    const size = h.size();
    const buf = new Uint8Array(size);
    const fill = (start: number, end: number): number => {
      let got = start;
      while (got < end) {
        const n = h.read(buf.subarray(got, end), got);
        if (n <= 0) break;
        got += n;
      }
      return got;
    };
    fill(0, Math.min(SEGMENT_HEADER_BYTES, size));
    const end = fill(Math.min(from, size), size);
    return end === size ? buf : buf.subarray(0, end);
  } finally {
    h.close();
  }
}

/**
 * Read `buf.length` bytes of `path` at `position` (fewer only at the end of
 * the file): reads may come back short before the end.
 */
export function readAt(fs: FileSystem, path: string, buf: Uint8Array, position: number): number {
  const h = fs.open(path, { read: true });
  try {
    return readFully(h, buf, position);
  } finally {
    h.close();
  }
}

/**
 * Read `buf.length` bytes of the open file `h` at `position`; returns how
 * many were read, fewer only at the end of the file (a read may come back
 * short before it).
 */
export function readFully(h: FileHandle, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = h.read(buf.subarray(got), position + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}
