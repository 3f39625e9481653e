/**
 * The header of one physical file of the OPFS pool: which logical path the
 * file holds, and a generation that orders every header write of the pool.
 *
 * Layout: two slots of {@linkcode SLOT_BYTES} at offsets 0 and
 * {@linkcode SLOT_BYTES}; the file's data starts at {@linkcode HEADER_BYTES}.
 * A header write goes to the slot that does *not* hold the current state, so
 * a write torn by a crash leaves the previous state readable in the other
 * slot: each header change (a create, a rename, a removal) either happened or
 * did not. The valid slot with the higher generation is the file's state; a
 * file with no valid slot (new, or truncated to 0 when freed) is free.
 *
 * Slot layout (little-endian):
 *
 * | offset | bytes | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic `BPKO` |
 * | 4 | 1 | format version (1) |
 * | 5 | 1 | kind: 1 file, 2 directory, 3 free (a tombstone) |
 * | 6 | 2 | path length in UTF-8 bytes |
 * | 8 | 8 | generation (a safe integer, low word first) |
 * | 16 | ≤ 1024 | path |
 * | 2044 | 4 | CRC-32 of bytes 0..2044 |
 *
 * @module
 */

import { crc32Range } from "../core/crc32.ts";

/** Bytes of one header slot. */
export const SLOT_BYTES = 2048;
/** Bytes before a physical file's data: two slots. */
export const HEADER_BYTES: number = 2 * SLOT_BYTES;
/** Longest logical path, in UTF-8 bytes. */
export const PATH_BYTES_MAX = 1024;

const MAGIC = 0x4f4b5042; // "BPKO" read as a little-endian u32
const FORMAT_VERSION = 1;
const PATH_OFFSET = 16;
const CRC_OFFSET: number = SLOT_BYTES - 4;
const UINT32_RANGE = 2 ** 32;

/**
 * What a header says the physical file is: a logical file, a directory
 * marker, or free (a tombstone, written when a file is removed while handles
 * to it are still open, so its name is gone after a crash).
 */
export type EntryKind = "file" | "directory" | "free";

const KIND_CODE: Readonly<Record<EntryKind, number>> = { file: 1, directory: 2, free: 3 };
const KIND_BY_CODE: readonly (EntryKind | undefined)[] = [undefined, "file", "directory", "free"];

/** The decoded state of one slot. */
export interface HeaderState {
  /** File, directory marker or tombstone. */
  kind: EntryKind;
  /** The logical path (normalised, absolute; empty for a tombstone). */
  path: string;
  /** Pool-wide order of header writes: the higher one wins. */
  generation: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The UTF-8 bytes of `path`, or `undefined` when longer than {@linkcode PATH_BYTES_MAX}. */
export function encodePath(path: string): Uint8Array | undefined {
  const bytes = encoder.encode(path);
  return bytes.length <= PATH_BYTES_MAX ? bytes : undefined;
}

/** One slot holding `state`; its path must fit (see {@linkcode encodePath}). */
export function encodeSlot(state: HeaderState): Uint8Array {
  const path = encodePath(state.path);
  if (path === undefined) throw new RangeError(`path longer than ${PATH_BYTES_MAX} bytes`);
  if (!Number.isSafeInteger(state.generation) || state.generation < 1) {
    throw new RangeError(`generation must be a positive safe integer, got ${state.generation}`);
  }
  const slot = new Uint8Array(SLOT_BYTES);
  const view = new DataView(slot.buffer);
  view.setUint32(0, MAGIC, true);
  slot[4] = FORMAT_VERSION;
  slot[5] = KIND_CODE[state.kind];
  view.setUint16(6, path.length, true);
  view.setUint32(8, state.generation % UINT32_RANGE, true);
  view.setUint32(12, Math.floor(state.generation / UINT32_RANGE), true);
  slot.set(path, PATH_OFFSET);
  view.setUint32(CRC_OFFSET, crc32Range(slot, 0, CRC_OFFSET), true);
  return slot;
}

/** The state a slot holds, or `undefined` when it is empty, torn or foreign. */
export function decodeSlot(slot: Uint8Array): HeaderState | undefined {
  if (slot.length < SLOT_BYTES) return undefined;
  const view = new DataView(slot.buffer, slot.byteOffset, SLOT_BYTES);
  if (view.getUint32(0, true) !== MAGIC || slot[4] !== FORMAT_VERSION) return undefined;
  if (view.getUint32(CRC_OFFSET, true) !== crc32Range(slot, 0, CRC_OFFSET)) return undefined;
  const kind = KIND_BY_CODE[slot[5]];
  const length = view.getUint16(6, true);
  if (kind === undefined || length > PATH_BYTES_MAX) return undefined;
  const generation = view.getUint32(8, true) + view.getUint32(12, true) * UINT32_RANGE;
  if (!Number.isSafeInteger(generation) || generation < 1) return undefined;
  let path: string;
  try {
    path = decoder.decode(slot.subarray(PATH_OFFSET, PATH_OFFSET + length));
  } catch {
    return undefined;
  }
  return { kind, path, generation };
}

/**
 * The current state of a physical file from its first {@linkcode HEADER_BYTES}
 * (fewer when the file is shorter): the valid slot with the higher
 * generation, and which slot that is; `undefined` for a free file.
 */
export function decodeHeader(
  header: Uint8Array,
): { state: HeaderState; slot: 0 | 1 } | undefined {
  const a = decodeSlot(header.subarray(0, SLOT_BYTES));
  const b = decodeSlot(header.subarray(SLOT_BYTES, HEADER_BYTES));
  if (a === undefined && b === undefined) return undefined;
  if (b === undefined || (a !== undefined && a.generation >= b.generation)) {
    return { state: a!, slot: 0 };
  }
  return { state: b, slot: 1 };
}
