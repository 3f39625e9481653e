/**
 * Index sidecars: the index image (`index.img`, written on close) and the
 * periodic checkpoint (`index.ckpt`). Both hold the index columns as flat
 * little-endian arrays that load with one read and no per-event parsing,
 * plus the log position they cover. A sidecar is written to a temporary
 * file, synced, and renamed into place, so a crash leaves the old one or the
 * new one, never half of either.
 *
 * ```
 * offset size field
 * 0      4    magic "FBIX"
 * 4      2    version (2; version 1 is still read)
 * 6      2    kind (1 image, 2 checkpoint)
 * 8      4    events
 * 12     4    entities
 * 16     4    scopes
 * 20     4    segment the covered log ends in
 * 24     4    end offset of the covered log in that segment
 * 28     4    segment of the last covered frame
 * 32     4    offset of the last covered frame
 * 36     4    crc of the last covered frame
 * 40     4    meta length
 * 44     4    crc32 of bytes 56..end
 * 48     4    id table slots (image only; 0 in a checkpoint)
 * 52     4    crc32 of bytes 0..52
 * 56     ..   meta (MessagePack: entity names, scope names, idempotency keys, system state,
 *             per sealed segment its size and the offset and CRC of its last frame, and
 *             per column page the base its lags count from, and the timestamps
 *             that do not fit the lag column, as [g, ms] pairs)
 * ..     ..   entity hashes (32 bytes each), then each column of `COLUMNS` (version 1:
 *             of `COLUMNS_V1`), every part 8-byte aligned
 * ..     ..   image only: the id table, then per entity and per scope the
 *             posting counts followed by the postings (u32 each): an image
 *             opens with no per-event work; a checkpoint rebuilds these
 * ```
 *
 * @module
 */

import { crc32 } from "../core/crc32.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { PayloadDecoder, PayloadEncoder } from "../core/payload.ts";
import { joinPath } from "../fs/path.ts";
import type { FileSystem } from "../fs/types.ts";
import { readWhole } from "../log/files.ts";
import { FRAME_BODY_BYTES_MAX, FRAME_HEADER_BYTES } from "../log/frame.ts";
import { TMP_SUFFIX } from "../log/segment.ts";
import {
  type Column,
  COLUMNS,
  Index,
  LAG_ELSEWHERE,
  lagOf,
  type Page,
  PAGE_ROWS,
  pageOf,
  type PostingLists,
} from "./index.ts";

/** File name of the index image. */
export const IMAGE_FILE = "index.img";
/** File name of the checkpoint. */
export const CHECKPOINT_FILE = "index.ckpt";
const SIDECAR_HEADER_BYTES = 56;
const FRAME_BYTES_MAX = FRAME_HEADER_BYTES + FRAME_BODY_BYTES_MAX;
/** The version this code writes. */
export const SIDECAR_VERSION = 2;

/**
 * The columns of a version-1 sidecar: an 8-byte timestamp instead of the
 * lag, and the stream sequence (now derived from the postings).
 */
const COLUMNS_V1: readonly (Omit<Column, "name"> & { name: string })[] = [
  { name: "ts", width: 8, words: 1, view: (b, o, n) => new Float64Array(b, o, n) },
  ...COLUMNS.filter((c) => c.name !== "lag" && c.name !== "kind"),
  { name: "seq", width: 4, words: 1, view: (b, o, n) => new Uint32Array(b, o, n) },
  COLUMNS.find((c) => c.name === "kind")!,
];
const MAGIC = [0x46, 0x42, 0x49, 0x58]; // "FBIX"
const ALIGN = 8;
/** Largest meta block (names, keys, system state) a sidecar holds. */
const SIDECAR_META_BYTES_MAX = 2 ** 31;

/** Which sidecar. */
export type SidecarKind = "image" | "checkpoint";

/** The log position a sidecar covers. */
export interface Coverage {
  segment: number;
  endOffset: number;
  lastFrameSegment: number;
  lastFrameOffset: number;
  lastFrameCrc: number;
}

/** What a sidecar records of one sealed segment (all zero when unknown). */
export interface SealedSegment {
  size: number;
  lastFrameOffset: number;
  lastFrameCrc: number;
}

/** A loaded sidecar. */
export interface LoadedSidecar {
  /** The format version it was written in (older ones are read, and rewritten at close). */
  version: number;
  index: Index;
  coverage: Coverage;
  system: unknown;
  /** Sealed segments 1.. in order (empty for sidecars written before the table existed). */
  sealed: SealedSegment[];
}

function asBytes(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function pad(n: number): number {
  return (n + ALIGN - 1) & ~(ALIGN - 1);
}

/**
 * Write the index as a sidecar, streaming each column page straight to the
 * file (no whole-index copy), then sync and rename it into place.
 */
export function saveSidecar(
  fs: FileSystem,
  dir: string,
  kind: SidecarKind,
  index: Index,
  coverage: Coverage,
  system: unknown,
  sealed: readonly SealedSegment[] = [],
): void {
  const file = kind === "image" ? IMAGE_FILE : CHECKPOINT_FILE;
  // Names and keys round-trip byte-exact (a leading U+FEFF included).
  const meta = new PayloadEncoder(SIDECAR_META_BYTES_MAX).encode({
    entities: index.entities.names,
    scopes: index.scopes.names,
    keys: [...index.keys],
    system,
    segments: sealed.map((t) => [t.size, t.lastFrameOffset, t.lastFrameCrc]),
    lagBases: index.lagBases.slice(0, index.pages.length),
    timestamps: [...index.timestamps],
  });
  const entityCount = index.entities.names.length;
  // Each part is a list of chunks written back to back, then padded to 8 bytes.
  const parts: Uint8Array[][] = [
    [meta],
    [index.entityHashes.subarray(0, entityCount * HASH_BYTES)],
  ];
  for (const c of COLUMNS) {
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < index.pages.length; p++) {
      const rows = Math.min(PAGE_ROWS, index.count - p * PAGE_ROWS);
      if (rows <= 0) break;
      const col = index.pages[p][c.name];
      chunks.push(new Uint8Array(col.buffer, col.byteOffset, rows * c.words * c.width));
    }
    parts.push(chunks);
  }
  const idSlots = kind === "image" ? index.idTable.length : 0;
  if (kind === "image") {
    parts.push([asBytes(index.idTable)]);
    for (const dim of [index.entities, index.scopes]) {
      parts.push([asBytes(Uint32Array.from(dim.postings, (p) => p.length))]);
      parts.push(dim.postings.map((p) => asBytes(p.items.subarray(0, p.length))));
    }
  }
  const tmp = joinPath(dir, file + TMP_SUFFIX);
  const h = fs.open(tmp, { write: true, create: true, truncate: true });
  try {
    const zeros = new Uint8Array(ALIGN);
    let at = SIDECAR_HEADER_BYTES;
    let crc = 0;
    for (const chunks of parts) {
      for (const chunk of chunks) {
        if (chunk.length === 0) continue;
        h.write(chunk, at);
        crc = crc32(chunk, crc);
        at += chunk.length;
      }
      const padding = pad(at) - at;
      if (padding > 0) {
        h.write(zeros.subarray(0, padding), at);
        crc = crc32(zeros.subarray(0, padding), crc);
        at += padding;
      }
    }
    const header = new Uint8Array(SIDECAR_HEADER_BYTES);
    header.set(MAGIC, 0);
    const dv = new DataView(header.buffer);
    dv.setUint16(4, SIDECAR_VERSION, true);
    dv.setUint16(6, kind === "image" ? 1 : 2, true);
    dv.setUint32(8, index.count, true);
    dv.setUint32(12, entityCount, true);
    dv.setUint32(16, index.scopes.names.length, true);
    dv.setUint32(20, coverage.segment, true);
    dv.setUint32(24, coverage.endOffset, true);
    dv.setUint32(28, coverage.lastFrameSegment, true);
    dv.setUint32(32, coverage.lastFrameOffset, true);
    dv.setUint32(36, coverage.lastFrameCrc, true);
    dv.setUint32(40, meta.length, true);
    dv.setUint32(44, crc, true);
    dv.setUint32(48, idSlots, true);
    dv.setUint32(52, crc32(header.subarray(0, 52)), true);
    h.write(header, 0);
    h.syncData();
  } finally {
    h.close();
  }
  fs.rename(tmp, joinPath(dir, file));
  fs.syncDir(dir);
}

/** How the reason {@linkcode loadSidecar} gives for a file it could not read starts. */
export const SIDECAR_UNREADABLE = "unreadable: ";

/**
 * Load and check a sidecar. Returns the index, or a string saying why the
 * sidecar cannot be trusted. Never throws for bad bytes.
 */
export function loadSidecar(
  fs: FileSystem,
  path: string,
  kind: SidecarKind,
): LoadedSidecar | string {
  let buf: Uint8Array;
  try {
    buf = readWhole(fs, path);
  } catch (e) {
    return `${SIDECAR_UNREADABLE}${(e as Error).message}`;
  }
  if (buf.length < SIDECAR_HEADER_BYTES) return "shorter than its header";
  for (let i = 0; i < 4; i++) if (buf[i] !== MAGIC[i]) return "bad magic";
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (dv.getUint32(52, true) !== crc32(buf.subarray(0, 52))) return "header crc mismatch";
  const version = dv.getUint16(4, true);
  if (version !== SIDECAR_VERSION && version !== 1) return "unknown version";
  if (dv.getUint16(6, true) !== (kind === "image" ? 1 : 2)) return "wrong sidecar kind";
  if (dv.getUint32(44, true) !== crc32(buf.subarray(SIDECAR_HEADER_BYTES))) {
    return "body crc mismatch";
  }
  const count = dv.getUint32(8, true);
  const entityCount = dv.getUint32(12, true);
  const scopeCount = dv.getUint32(16, true);
  const metaLength = dv.getUint32(40, true);
  let at = SIDECAR_HEADER_BYTES;
  let meta: {
    entities: string[];
    scopes: string[];
    keys: [string, number][];
    system: unknown;
    segments?: unknown;
    timestamps?: unknown;
    lagBases?: unknown;
  };
  if (at + metaLength > buf.length) return "truncated";
  try {
    meta = new PayloadDecoder().decode(buf, at, at + metaLength) as typeof meta;
  } catch (e) {
    return `meta does not decode: ${(e as Error).message}`;
  }
  if (
    !Array.isArray(meta?.entities) || meta.entities.length !== entityCount ||
    !Array.isArray(meta.scopes) || meta.scopes.length !== scopeCount || !Array.isArray(meta.keys)
  ) return "meta does not match the header";
  // The CRCs catch damage, not a sidecar written wrong: check the shapes before trusting them.
  if (
    !meta.entities.every((n) => typeof n === "string") ||
    !meta.scopes.every((n) => typeof n === "string") ||
    !meta.keys.every((e) =>
      Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && Number.isInteger(e[1]) &&
      e[1] >= 1 && e[1] <= count
    )
  ) return "meta holds a name or an idempotency key of the wrong shape";
  const sealed: SealedSegment[] = [];
  if (meta.segments !== undefined) {
    if (!Array.isArray(meta.segments)) return "meta holds a segment table of the wrong shape";
    for (const row of meta.segments) {
      if (
        !Array.isArray(row) || row.length !== 3 ||
        !row.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)
      ) return "meta holds a segment table of the wrong shape";
      sealed.push({ size: row[0], lastFrameOffset: row[1], lastFrameCrc: row[2] });
    }
  }
  const timestamps = meta.timestamps ?? [];
  if (
    !Array.isArray(timestamps) ||
    !timestamps.every((e) =>
      Array.isArray(e) && e.length === 2 && Number.isInteger(e[0]) && e[0] >= 1 &&
      e[0] <= count && typeof e[1] === "number"
    )
  ) return "meta holds a timestamp table of the wrong shape";
  at = pad(at + metaLength);
  const index = new Index();
  for (const [g, ms] of timestamps as [number, number][]) index.timestamps.set(g, ms);
  if (index.timestamps.size !== timestamps.length) return "the timestamp table names a row twice";
  const pageCount = Math.ceil(count / PAGE_ROWS);
  const lagBases = version === 1 ? new Array(pageCount).fill(0) : meta.lagBases;
  if (
    !Array.isArray(lagBases) || lagBases.length !== pageCount ||
    !lagBases.every((b) => Number.isSafeInteger(b))
  ) return "meta holds a lag base table of the wrong shape";
  index.lagBases = lagBases;
  for (const name of meta.entities) index.entities.intern(name);
  for (const name of meta.scopes) index.scopes.intern(name);
  if (index.entities.names.length !== entityCount || index.scopes.names.length !== scopeCount) {
    return "duplicate names";
  }
  for (const [k, g] of meta.keys) index.keys.set(k, g);
  const hashBytes = entityCount * HASH_BYTES;
  if (at + hashBytes > buf.length) return "truncated";
  index.entityHashes = buf.slice(at, at + hashBytes);
  if (index.entityHashes.length === 0) index.entityHashes = new Uint8Array(HASH_BYTES * 64);
  at = pad(at + hashBytes);
  const columns = new Map<string, ArrayBufferView>();
  for (const c of version === 1 ? COLUMNS_V1 : COLUMNS) {
    const bytes = count * c.words * c.width;
    if (at + bytes > buf.length) return "truncated";
    columns.set(c.name, c.view(buf.buffer, buf.byteOffset + at, count * c.words));
    at = pad(at + bytes);
  }
  if (version === 1) {
    if (index.timestamps.size > 0) return "meta holds a timestamp table of the wrong shape";
    columns.set("lag", lagsFromV1(index, columns));
  }
  const coveredSegment = dv.getUint32(20, true);
  // Bounds of every id in the columns, so a lying sidecar cannot index out of range: one loop
  // over the file's columns, before they are cut into pages.
  const problem = checkRows(columns, count, entityCount, scopeCount, coveredSegment, index);
  if (problem) return problem;
  // Pages are views of the file's columns; a last page that is not full is as long as its
  // rows, and grows to a whole page at its first append (see Index.add).
  const pages: Page[] = [];
  for (let start = 0; start < count; start += PAGE_ROWS) {
    const rows = Math.min(PAGE_ROWS, count - start);
    const page: Record<string, ArrayBufferView> = {};
    for (const c of COLUMNS) {
      const col = columns.get(c.name) as Uint32Array;
      page[c.name] = col.subarray(start * c.words, (start + rows) * c.words);
    }
    pages.push(pageOf(page as unknown as Page));
  }
  index.pages = pages;
  index.count = count;
  const idSlots = dv.getUint32(48, true);
  if (idSlots > 0) {
    // An image: adopt the saved postings and id table (checked, not trusted blindly).
    const words = (n: number): Uint32Array | undefined => {
      if (at + n * 4 > buf.length) return undefined;
      const view = new Uint32Array(buf.buffer, buf.byteOffset + at, n);
      at = pad(at + n * 4);
      return view;
    };
    const idTable = words(idSlots);
    if (!idTable) return "truncated";
    const lists: PostingLists[] = [];
    for (const n of [entityCount, scopeCount]) {
      const counts = words(n);
      if (!counts) return "truncated";
      let total = 0;
      for (let i = 0; i < n; i++) total += counts[i];
      if (total !== count) return "posting counts do not add up to the event count";
      const all = words(total);
      if (!all) return "truncated";
      lists.push({ counts, all });
    }
    const problem = index.adoptDerived(idTable, lists[0], lists[1], {
      ent: columns.get("ent") as Uint32Array,
      scp: columns.get("scp") as Uint32Array,
    });
    if (problem) return problem;
  } else {
    index.rebuildDerived();
  }
  return {
    version,
    index,
    coverage: {
      segment: dv.getUint32(20, true),
      endOffset: dv.getUint32(24, true),
      lastFrameSegment: dv.getUint32(28, true),
      lastFrameOffset: dv.getUint32(32, true),
      lastFrameCrc: dv.getUint32(36, true),
    },
    system: meta.system,
    sealed,
  };
}

/**
 * The lag column of a version-1 sidecar, from its timestamp and id columns;
 * timestamps that do not fit go to `index.timestamps`.
 */
function lagsFromV1(index: Index, columns: Map<string, ArrayBufferView>): Int32Array {
  const ts = columns.get("ts") as Float64Array;
  const id = columns.get("id") as Uint32Array;
  const lags = new Int32Array(ts.length);
  for (let i = 0; i < ts.length; i++) {
    const lag = lagOf(id[i * 4], id[i * 4 + 1], ts[i], 0); // version 1 pages: base 0
    lags[i] = lag;
    if (lag === LAG_ELSEWHERE) index.timestamps.set(i + 1, ts[i]);
  }
  return lags;
}

/** Why the rows of a sidecar's columns cannot be trusted, or `undefined`. */
function checkRows(
  columns: Map<string, ArrayBufferView>,
  count: number,
  entityCount: number,
  scopeCount: number,
  coveredSegment: number,
  index: Index,
): string | undefined {
  const ent = columns.get("ent") as Uint32Array;
  const scp = columns.get("scp") as Uint32Array;
  const seg = columns.get("seg") as Uint32Array;
  const len = columns.get("len") as Uint32Array;
  const lag = columns.get("lag") as Int32Array;
  let elsewhere = 0;
  for (let i = 0; i < count; i++) {
    if (ent[i] >= entityCount || scp[i] >= scopeCount) {
      return "row names an unknown entity or scope";
    }
    if (seg[i] < 1 || seg[i] > coveredSegment || len[i] > FRAME_BYTES_MAX) {
      return "row points outside the covered log";
    }
    if (lag[i] === LAG_ELSEWHERE) {
      if (!index.timestamps.has(i + 1)) return "a row's timestamp is missing";
      elsewhere++;
    }
  }
  if (elsewhere !== index.timestamps.size) return "the timestamp table names rows that have a lag";
  return undefined;
}
