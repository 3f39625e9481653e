/**
 * Index sidecars: the index image (`index.img`, written on close) and the
 * periodic checkpoint (`index.ckpt`). Both hold the index columns as flat
 * little-endian arrays that load with no per-event parsing, plus the log
 * position they cover. A sidecar is written to a temporary file, synced,
 * and renamed into place, so a crash leaves the old one or the new one,
 * never half of either.
 *
 * ```
 * offset size field
 * 0      4    magic "FBIX"
 * 4      2    version (3; versions 1 and 2 are still read)
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
 * 44     4    crc32 of the head (bytes 56 .. the body; versions 1, 2: of bytes 56..end)
 * 48     4    id table slots (image only; 0 in a checkpoint)
 * 52     4    crc32 of bytes 0..52
 * head:
 * 56     ..   meta (MessagePack: entity names, scope names, idempotency keys, system state,
 *             per sealed segment its size and the offset and CRC of its last frame,
 *             per column page the base its lags count from, the timestamps that do
 *             not fit the lag column, as [g, ms] pairs, and the first event's frame
 *             location and id words)
 * ..     ..   entity hashes (32 bytes each)
 * ..     ..   image only: each entity's, then each scope's posting list length (u32)
 * ..     ..   the CRC of each 4 KiB block of the body (u32)
 * body, every part 8-byte aligned:
 * ..     ..   per page, each column of `COLUMNS` for its rows
 * ..     ..   image only: the id table, then every entity's posting list, then every
 *             scope's, back to back (u32 each)
 * ```
 *
 * Versions 1 and 2 (one CRC over the body; each column whole, one after
 * another) are read whole. A version-3 checkpoint is read whole too (it
 * rebuilds the postings from every row); a version-3 image is read as it
 * is used: its head at open, and each page, list and the id table when
 * first needed, the blocks each read spans checked (see `PagedSource`).
 *
 * @module
 */

import { crc32 } from "../core/crc32.ts";
import { CorruptSegmentError } from "../core/errors.ts";
import type { IdWords } from "../core/ids.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { PayloadDecoder, PayloadEncoder } from "../core/payload.ts";
import { joinPath } from "../fs/path.ts";
import type { FileHandle, FileSystem } from "../fs/types.ts";
import { FRAME_BODY_BYTES_MAX, FRAME_HEADER_BYTES } from "../log/frame.ts";
import { readFully } from "../log/files.ts";
import { TMP_SUFFIX } from "../log/segment.ts";
import {
  type Column,
  COLUMNS,
  Index,
  type IndexSource,
  LAG_ELSEWHERE,
  lagOf,
  type Page,
  PAGE_BITS,
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
export const SIDECAR_VERSION = 3;

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
  /** Where the event with global sequence 1 is, and its id (when there are events). */
  first: FirstEvent | undefined;
}

/** Where a sidecar says the first event's frame is, and its id. */
export interface FirstEvent {
  segment: number;
  offset: number;
  length: number;
  id: IdWords;
}

function asBytes(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function pad(n: number): number {
  return (n + ALIGN - 1) & ~(ALIGN - 1);
}

/**
 * A sidecar of at most this many bytes (an image of about 17,000 events) is
 * read in one read at open, and an image that small is checked whole there:
 * read part by part, a 1K-event store's open and first read took 1.11–1.13×
 * as long (six reads instead of one; alternated in one process).
 */
export const IMAGE_READ_WHOLE_BYTES = 1 << 20;

/** Bytes per checked block of a version-3 body (each has its CRC in the head: 0.1% of it). */
export const BLOCK_BYTES = 1 << 12;

/** Byte sizes of the parts of a version-3 body, in file order. */
interface BodyLayout {
  /** Per page, its offset in the body and its bytes (its columns, each padded). */
  pageAt: number[];
  pageBytes: number[];
  /** Image only: the id table's offset, then each dimension's lists' offset (0 in a checkpoint). */
  idAt: number;
  listsAt: [number, number];
  /** Bytes of the body. */
  bytes: number;
}

/** Bytes of the columns of a page of `rows` rows, each column padded. */
function pageBytesOf(rows: number): number {
  let n = 0;
  for (const c of COLUMNS) n += pad(rows * c.words * c.width);
  return n;
}

function bodyLayout(count: number, idSlots: number): BodyLayout {
  const pageAt: number[] = [];
  const pageBytes: number[] = [];
  let at = 0;
  for (let start = 0; start < count; start += PAGE_ROWS) {
    const bytes = pageBytesOf(Math.min(PAGE_ROWS, count - start));
    pageAt.push(at);
    pageBytes.push(bytes);
    at += bytes;
  }
  const idAt = at;
  const listsAt: [number, number] = [0, 0];
  if (idSlots > 0) {
    at += pad(idSlots * 4);
    listsAt[0] = at;
    at += pad(count * 4);
    listsAt[1] = at;
    at += pad(count * 4);
  }
  return { pageAt, pageBytes, idAt, listsAt, bytes: at };
}

/** The head's length past the 56-byte header: meta, hashes, list lengths, block CRCs, padded. */
function headBytes(
  metaLength: number,
  entities: number,
  scopes: number,
  image: boolean,
  blocks: number,
): number {
  let at = pad(metaLength) + pad(entities * HASH_BYTES);
  if (image) at += pad(entities * 4) + pad(scopes * 4);
  return at + pad(blocks * 4);
}

/**
 * Write the index as a sidecar, streaming each column page straight to the
 * file (no whole-index copy), then sync and rename it into place. A page
 * not read yet from the image this index was opened from is read first.
 *
 * Version 3, the one written: after the header, a head (meta; entity
 * hashes; in an image the length of every entity's and scope's list; the
 * CRC of every 4 KiB block of the body), then the body: each page's
 * columns together (one read loads a page), and in an image the id table
 * and the lists back to back. The header's CRC at 44 covers the head; an
 * open reads only the head, and each part of the body when first used,
 * checking the CRCs of the blocks it spans.
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
  const image = kind === "image";
  // Every page and list in memory (and the image's file let go) before anything is written.
  index.readAll();
  const count = index.count;
  const entityCount = index.entities.names.length;
  const scopeCount = index.scopes.names.length;
  const at1 = count > 0 ? index.location(1) : undefined;
  const first = at1 ? [at1.segment, at1.offset, at1.length, ...index.idWords(1)] : null;
  // Names and keys round-trip byte-exact (a leading U+FEFF included).
  const meta = new PayloadEncoder(SIDECAR_META_BYTES_MAX).encode({
    entities: index.entities.names,
    scopes: index.scopes.names,
    keys: [...index.keys],
    system,
    segments: sealed.map((t) => [t.size, t.lastFrameOffset, t.lastFrameCrc]),
    lagBases: index.lagBases.slice(0, index.pageCount),
    timestamps: [...index.timestamps],
    first,
  });
  const idTable = image ? index.idTable : undefined;
  const layout = bodyLayout(count, idTable?.length ?? 0);
  const blocks = Math.ceil(layout.bytes / BLOCK_BYTES);
  const bodyStart = SIDECAR_HEADER_BYTES +
    headBytes(meta.length, entityCount, scopeCount, image, blocks);
  const blockCrcs = new Uint32Array(blocks);
  const zeros = new Uint8Array(ALIGN);
  const tmp = joinPath(dir, file + TMP_SUFFIX);
  const h = fs.open(tmp, { write: true, create: true, truncate: true });
  try {
    // The body, a block's CRC at a time.
    let at = 0;
    let crc = 0;
    const emit = (chunk: Uint8Array) => {
      if (chunk.length === 0) return;
      h.write(chunk, bodyStart + at);
      let from = 0;
      while (from < chunk.length) {
        const room = BLOCK_BYTES - (at % BLOCK_BYTES);
        const part = chunk.subarray(from, from + room);
        crc = crc32(part, crc);
        at += part.length;
        from += part.length;
        if (at % BLOCK_BYTES === 0) {
          blockCrcs[at / BLOCK_BYTES - 1] = crc;
          crc = 0;
        }
      }
    };
    const padded = (chunk: Uint8Array) => {
      emit(chunk);
      const padding = pad(chunk.length) - chunk.length;
      if (padding > 0) emit(zeros.subarray(0, padding));
    };
    for (let p = 0; p < layout.pageAt.length; p++) {
      const rows = Math.min(PAGE_ROWS, count - p * PAGE_ROWS);
      const page = index.page(p);
      for (const c of COLUMNS) {
        const col = page[c.name];
        padded(new Uint8Array(col.buffer, col.byteOffset, rows * c.words * c.width));
      }
    }
    if (idTable !== undefined) {
      padded(asBytes(idTable));
      for (const dim of [index.entities, index.scopes]) {
        let bytes = 0;
        for (const p of dim.postings) {
          const items = asBytes(p.items.subarray(0, p.length));
          emit(items);
          bytes += items.length;
        }
        const padding = pad(bytes) - bytes;
        if (padding > 0) emit(zeros.subarray(0, padding));
      }
    }
    if (at !== layout.bytes) throw new RangeError(`sidecar body: wrote ${at} of ${layout.bytes}`);
    if (at % BLOCK_BYTES !== 0) blockCrcs[blocks - 1] = crc;
    // The head, after the body: it holds the body's CRCs.
    const parts: Uint8Array[] = [meta, index.entityHashes.subarray(0, entityCount * HASH_BYTES)];
    if (image) {
      for (const dim of [index.entities, index.scopes]) {
        parts.push(asBytes(Uint32Array.from(dim.postings, (p) => p.length)));
      }
    }
    parts.push(asBytes(blockCrcs));
    let headAt = SIDECAR_HEADER_BYTES;
    let headCrc = 0;
    for (const part of parts) {
      const bytes = new Uint8Array(pad(part.length));
      bytes.set(part);
      h.write(bytes, headAt);
      headCrc = crc32(bytes, headCrc);
      headAt += bytes.length;
    }
    if (headAt !== bodyStart) throw new RangeError(`sidecar head: ${headAt}, not ${bodyStart}`);
    const header = new Uint8Array(SIDECAR_HEADER_BYTES);
    header.set(MAGIC, 0);
    const dv = new DataView(header.buffer);
    dv.setUint16(4, SIDECAR_VERSION, true);
    dv.setUint16(6, image ? 1 : 2, true);
    dv.setUint32(8, count, true);
    dv.setUint32(12, entityCount, true);
    dv.setUint32(16, scopeCount, true);
    dv.setUint32(20, coverage.segment, true);
    dv.setUint32(24, coverage.endOffset, true);
    dv.setUint32(28, coverage.lastFrameSegment, true);
    dv.setUint32(32, coverage.lastFrameOffset, true);
    dv.setUint32(36, coverage.lastFrameCrc, true);
    dv.setUint32(40, meta.length, true);
    dv.setUint32(44, headCrc, true);
    dv.setUint32(48, idTable?.length ?? 0, true);
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

/** The meta block of a sidecar, its shapes checked. */
interface Meta {
  entities: string[];
  scopes: string[];
  keys: [string, number][];
  system: unknown;
  sealed: SealedSegment[];
  timestamps: [number, number][];
  lagBases?: unknown;
  first?: unknown;
}

/** Decode and check the meta block `buf[at .. at + length)` of a sidecar of `count` events. */
function readMeta(
  buf: Uint8Array,
  at: number,
  length: number,
  count: number,
  entityCount: number,
  scopeCount: number,
): Meta | string {
  let meta: {
    entities: string[];
    scopes: string[];
    keys: [string, number][];
    system: unknown;
    segments?: unknown;
    timestamps?: unknown;
    lagBases?: unknown;
    first?: unknown;
  };
  if (at + length > buf.length) return "truncated";
  try {
    meta = new PayloadDecoder().decode(buf, at, at + length) as typeof meta;
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
  return {
    entities: meta.entities,
    scopes: meta.scopes,
    keys: meta.keys,
    system: meta.system,
    sealed,
    timestamps: timestamps as [number, number][],
    lagBases: meta.lagBases,
    first: meta.first,
  };
}

/** An index with the names, keys, timestamps and lag bases of `meta`, or why it cannot be. */
function indexOf(meta: Meta, pageCount: number, lagBases: unknown): Index | string {
  const index = new Index();
  for (const [g, ms] of meta.timestamps) index.timestamps.set(g, ms);
  if (index.timestamps.size !== meta.timestamps.length) {
    return "the timestamp table names a row twice";
  }
  if (
    !Array.isArray(lagBases) || lagBases.length !== pageCount ||
    !lagBases.every((b) => Number.isSafeInteger(b))
  ) return "meta holds a lag base table of the wrong shape";
  index.lagBases = lagBases;
  for (const name of meta.entities) index.entities.intern(name);
  for (const name of meta.scopes) index.scopes.intern(name);
  if (
    index.entities.names.length !== meta.entities.length ||
    index.scopes.names.length !== meta.scopes.length
  ) {
    return "duplicate names";
  }
  for (const [k, g] of meta.keys) index.keys.set(k, g);
  return index;
}

/** The header fields of a sidecar. */
interface Header {
  version: number;
  count: number;
  entityCount: number;
  scopeCount: number;
  metaLength: number;
  bodyCrc: number;
  idSlots: number;
  coverage: Coverage;
}

/** Check the 56-byte header `buf` of a sidecar of `kind`. */
function readHeader(buf: Uint8Array, kind: SidecarKind): Header | string {
  if (buf.length < SIDECAR_HEADER_BYTES) return "shorter than its header";
  for (let i = 0; i < 4; i++) if (buf[i] !== MAGIC[i]) return "bad magic";
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (dv.getUint32(52, true) !== crc32(buf.subarray(0, 52))) return "header crc mismatch";
  const version = dv.getUint16(4, true);
  if (version !== SIDECAR_VERSION && version !== 2 && version !== 1) return "unknown version";
  if (dv.getUint16(6, true) !== (kind === "image" ? 1 : 2)) return "wrong sidecar kind";
  return {
    version,
    count: dv.getUint32(8, true),
    entityCount: dv.getUint32(12, true),
    scopeCount: dv.getUint32(16, true),
    metaLength: dv.getUint32(40, true),
    bodyCrc: dv.getUint32(44, true),
    idSlots: dv.getUint32(48, true),
    coverage: {
      segment: dv.getUint32(20, true),
      endOffset: dv.getUint32(24, true),
      lastFrameSegment: dv.getUint32(28, true),
      lastFrameOffset: dv.getUint32(32, true),
      lastFrameCrc: dv.getUint32(36, true),
    },
  };
}

/**
 * Load and check a sidecar. Returns the index, or a string saying why the
 * sidecar cannot be trusted. Never throws for bad bytes.
 *
 * A version-3 image is read lazily: only its head here (names, keys,
 * hashes, list lengths, block CRCs); its pages, lists and id table when
 * first used, each checked then (see {@linkcode IndexSource}), from the
 * file, which stays open until the index has read all of it or is
 * released. A part found damaged then fails with `CorruptSegmentError`;
 * with `writable`, the image is removed at once, so the next open does not
 * take it. Older versions and checkpoints are read whole, here.
 */
export function loadSidecar(
  fs: FileSystem,
  path: string,
  kind: SidecarKind,
  options: { writable?: boolean } = {},
): LoadedSidecar | string {
  let h: FileHandle;
  try {
    h = fs.open(path, { read: true });
  } catch (e) {
    return `${SIDECAR_UNREADABLE}${(e as Error).message}`;
  }
  let kept = false;
  try {
    const size = h.size();
    // A small one in one read (its parts one by one would cost more); else the header first.
    const whole = size <= IMAGE_READ_WHOLE_BYTES ? new Uint8Array(size) : undefined;
    const head = whole ?? new Uint8Array(Math.min(size, SIDECAR_HEADER_BYTES));
    if (readFully(h, head, 0) !== head.length) return "truncated";
    const header = readHeader(head.subarray(0, SIDECAR_HEADER_BYTES), kind);
    if (typeof header === "string") return header;
    if (header.version < 3) {
      const buf = whole ?? new Uint8Array(size);
      if (whole === undefined && readFully(h, buf, 0) !== size) return "truncated";
      return loadWhole(buf, header);
    }
    const loaded = loadPaged(fs, h, size, path, header, kind, options.writable === true, whole);
    // Kept open for the parts not read yet (closed by the index once it has read them all).
    kept = typeof loaded !== "string" && kind === "image";
    return loaded;
  } catch (e) {
    if (e instanceof SidecarDamage) return e.reason;
    return `${SIDECAR_UNREADABLE}${(e as Error).message}`;
  } finally {
    if (!kept) h.close();
  }
}

/** A version-1 or -2 sidecar, read whole into `buf`. */
function loadWhole(buf: Uint8Array, header: Header): LoadedSidecar | string {
  const { version, count, entityCount, scopeCount, metaLength } = header;
  if (header.bodyCrc !== crc32(buf.subarray(SIDECAR_HEADER_BYTES))) {
    return "body crc mismatch";
  }
  let at = SIDECAR_HEADER_BYTES;
  const meta = readMeta(buf, at, metaLength, count, entityCount, scopeCount);
  if (typeof meta === "string") return meta;
  at = pad(at + metaLength);
  const pageCount = Math.ceil(count / PAGE_ROWS);
  const index = indexOf(
    meta,
    pageCount,
    version === 1 ? new Array(pageCount).fill(0) : meta.lagBases,
  );
  if (typeof index === "string") return index;
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
  // Bounds of every id in the columns, so a lying sidecar cannot index out of range: one loop
  // over the file's columns, before they are cut into pages.
  const rows = checkRows(columns, 0, count, header, index);
  if (typeof rows === "string") return rows;
  if (rows !== index.timestamps.size) return "the timestamp table names rows that have a lag";
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
  index.setPages(pages, count);
  if (header.idSlots > 0) {
    // An image: adopt the saved postings and id table (checked, not trusted blindly).
    const words = (n: number): Uint32Array | undefined => {
      if (at + n * 4 > buf.length) return undefined;
      const view = new Uint32Array(buf.buffer, buf.byteOffset + at, n);
      at = pad(at + n * 4);
      return view;
    };
    const idTable = words(header.idSlots);
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
  const first = count > 0 ? firstOf(index) : undefined;
  return {
    version,
    index,
    coverage: header.coverage,
    system: meta.system,
    sealed: meta.sealed,
    first,
  };
}

/** Where the first event's frame is and its id, as an index holds them. */
function firstOf(index: Index): FirstEvent {
  return { ...index.location(1), id: index.idWords(1) };
}

/** A version-3 sidecar: its head now, the rest of an image as it is used (see `PagedSource`). */
function loadPaged(
  fs: FileSystem,
  h: FileHandle,
  size: number,
  path: string,
  header: Header,
  kind: SidecarKind,
  writable: boolean,
  whole: Uint8Array | undefined,
): LoadedSidecar | string {
  const { count, entityCount, scopeCount, metaLength, idSlots } = header;
  const image = kind === "image";
  if (image !== idSlots > 0) return "an id table where none belongs, or none where one does";
  const layout = bodyLayout(count, idSlots);
  const blocks = Math.ceil(layout.bytes / BLOCK_BYTES);
  const bodyStart = SIDECAR_HEADER_BYTES +
    headBytes(metaLength, entityCount, scopeCount, image, blocks);
  if (size !== bodyStart + layout.bytes) {
    return size < bodyStart + layout.bytes ? "truncated" : "longer than its parts";
  }
  const head = whole?.subarray(SIDECAR_HEADER_BYTES, bodyStart) ??
    new Uint8Array(bodyStart - SIDECAR_HEADER_BYTES);
  if (!whole && readFully(h, head, SIDECAR_HEADER_BYTES) !== head.length) return "truncated";
  if (crc32(head) !== header.bodyCrc) return "head crc mismatch";
  const meta = readMeta(head, 0, metaLength, count, entityCount, scopeCount);
  if (typeof meta === "string") return meta;
  const pageCount = layout.pageAt.length;
  const index = indexOf(meta, pageCount, meta.lagBases);
  if (typeof index === "string") return index;
  let at = pad(metaLength);
  index.entityHashes = head.slice(at, at + entityCount * HASH_BYTES);
  if (index.entityHashes.length === 0) index.entityHashes = new Uint8Array(HASH_BYTES * 64);
  at += pad(entityCount * HASH_BYTES);
  const words = (n: number): Uint32Array => {
    const view = new Uint32Array(head.buffer, head.byteOffset + at, n);
    at += pad(n * 4);
    return view;
  };
  const counts: Uint32Array[] = [];
  if (image) {
    for (const n of [entityCount, scopeCount]) {
      const c = words(n).slice();
      let total = 0;
      for (let i = 0; i < n; i++) total += c[i];
      if (total !== count) return "posting counts do not add up to the event count";
      counts.push(c);
    }
  }
  const blockCrcs = words(blocks).slice();
  let first: FirstEvent | undefined;
  if (count > 0) {
    const f = meta.first;
    if (
      !Array.isArray(f) || f.length !== 7 ||
      !f.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)
    ) return "meta holds a first event of the wrong shape";
    first = { segment: f[0], offset: f[1], length: f[2], id: [f[3], f[4], f[5], f[6]] };
  }
  const source = new PagedSource(fs, h, path, header, layout, bodyStart, blockCrcs, {
    counts,
    index,
    first,
    writable,
    whole,
  });
  if (image) {
    index.attachSource(source, pageCount, count, counts[0], counts[1]);
    // A small image (read in one read) is checked whole now: its parts checked one by one, as
    // first used, would cost more than that.
    if (whole !== undefined) index.readAll();
  } else {
    // A checkpoint is read whole (its postings are rebuilt from every row anyway).
    const pages: Page[] = [];
    for (let p = 0; p < pageCount; p++) pages.push(source.page(p));
    index.setPages(pages, count);
    index.rebuildDerived();
  }
  return {
    version: header.version,
    index,
    coverage: header.coverage,
    system: meta.system,
    sealed: meta.sealed,
    first,
  };
}

/**
 * A part of an index image found damaged where it was first read (after
 * the open): the read fails closed, naming the image.
 */
export class SidecarDamage extends CorruptSegmentError {
  /** What is wrong with it. */
  readonly reason: string;
  /** Build the error. */
  constructor(reason: string) {
    super(
      IMAGE_FILE,
      0,
      `the index image fails a check where the open had not read it yet (${reason}): ` +
        "reopen the store; its next open rebuilds the index from the log",
    );
    this.reason = reason;
  }
}

/**
 * The body of a version-3 sidecar, read a part at a time: each read spans
 * whole 4 KiB blocks and checks each one's CRC; a page's rows are checked
 * as {@linkcode loadWhole} checks every row (the ids they hold in range,
 * the timestamps the side table holds for them), the first row against
 * the head's record of it.
 */
class PagedSource implements IndexSource {
  readonly rows: number;
  #damaged: string | undefined;
  #h: FileHandle | undefined;
  readonly #fs: FileSystem;
  readonly #path: string;
  readonly #header: Header;
  readonly #layout: BodyLayout;
  readonly #bodyStart: number;
  readonly #blockCrcs: Uint32Array;
  readonly #first: FirstEvent | undefined;
  readonly #writable: boolean;
  readonly #index: Index;
  /** Per dimension, where each list starts (in entries from the dimension's first). */
  readonly #starts: Uint32Array[];
  /** Per page, how many of its rows the timestamp table holds. */
  readonly #elsewhere: Uint32Array;
  readonly #whole: Uint8Array | undefined;

  constructor(
    fs: FileSystem,
    h: FileHandle,
    path: string,
    header: Header,
    layout: BodyLayout,
    bodyStart: number,
    blockCrcs: Uint32Array,
    more: {
      counts: Uint32Array[];
      index: Index;
      first: FirstEvent | undefined;
      writable: boolean;
      /** The whole file, when it was read in one read (see `IMAGE_READ_WHOLE_BYTES`). */
      whole: Uint8Array | undefined;
    },
  ) {
    this.rows = header.count;
    this.#fs = fs;
    this.#h = h;
    this.#path = path;
    this.#header = header;
    this.#layout = layout;
    this.#bodyStart = bodyStart;
    this.#blockCrcs = blockCrcs;
    this.#first = more.first;
    this.#writable = more.writable;
    this.#index = more.index;
    this.#whole = more.whole;
    this.#starts = more.counts.map((c) => {
      const starts = new Uint32Array(c.length);
      for (let i = 1; i < c.length; i++) starts[i] = starts[i - 1] + c[i - 1];
      return starts;
    });
    this.#elsewhere = new Uint32Array(layout.pageAt.length);
    for (const g of more.index.timestamps.keys()) this.#elsewhere[(g - 1) >>> PAGE_BITS]++;
  }

  get damaged(): string | undefined {
    return this.#damaged;
  }

  damage(reason: string): Error {
    if (this.#damaged === undefined) {
      this.#damaged = reason;
      if (this.#writable) {
        try {
          // Not taken again by the next open, which rebuilds from the checkpoint or the log.
          this.#fs.remove(this.#path);
        } catch {
          // Best effort: a close finds the image damaged and does not keep it (see Engine).
        }
      }
    }
    return new SidecarDamage(reason);
  }

  /** Body bytes `[from, from + length)`, every block they span checked. */
  #read(from: number, length: number, copy: boolean): Uint8Array {
    const h = this.#h;
    if (h === undefined) throw new RangeError("the index image was let go before it was read");
    if (length === 0) return new Uint8Array(0);
    const b0 = Math.floor(from / BLOCK_BYTES);
    const b1 = Math.floor((from + length - 1) / BLOCK_BYTES);
    const spanAt = b0 * BLOCK_BYTES;
    const spanEnd = Math.min((b1 + 1) * BLOCK_BYTES, this.#layout.bytes);
    let span: Uint8Array;
    if (this.#whole !== undefined) {
      span = this.#whole.subarray(this.#bodyStart + spanAt, this.#bodyStart + spanEnd);
    } else {
      span = new Uint8Array(spanEnd - spanAt);
      if (readFully(h, span, this.#bodyStart + spanAt) !== span.length) {
        throw this.damage("it is shorter than it was at open");
      }
    }
    for (let b = b0; b <= b1; b++) {
      const at = b * BLOCK_BYTES - spanAt;
      if (
        crc32(span.subarray(at, Math.min(at + BLOCK_BYTES, span.length))) !== this.#blockCrcs[b]
      ) {
        throw this.damage(`block ${b} of its body fails its CRC`);
      }
    }
    const part = span.subarray(from - spanAt, from - spanAt + length);
    return copy ? part.slice() : part;
  }

  page(p: number): Page {
    const rows = Math.min(PAGE_ROWS, this.rows - p * PAGE_ROWS);
    const bytes = this.#read(this.#layout.pageAt[p], this.#layout.pageBytes[p], false);
    const columns = new Map<string, ArrayBufferView>();
    let at = 0;
    for (const c of COLUMNS) {
      columns.set(c.name, c.view(bytes.buffer, bytes.byteOffset + at, rows * c.words));
      at += pad(rows * c.words * c.width);
    }
    const elsewhere = checkRows(columns, p * PAGE_ROWS, rows, this.#header, this.#index);
    if (typeof elsewhere === "string") throw this.damage(elsewhere);
    if (elsewhere !== this.#elsewhere[p]) {
      throw this.damage("the timestamp table names rows that have a lag");
    }
    const page = pageOf(Object.fromEntries(columns) as unknown as Page);
    const first = this.#first;
    if (p === 0 && first !== undefined) {
      if (
        page.seg[0] !== first.segment || page.off[0] !== first.offset ||
        page.len[0] !== first.length || first.id.some((w, i) => page.id[i] !== w)
      ) throw this.damage("its first row is not the first event its head names");
    }
    return page;
  }

  list(dim: 0 | 1, list: number): Uint32Array | undefined {
    const n = this.#listLength(dim, list);
    const at = this.#layout.listsAt[dim] + this.#starts[dim][list] * 4;
    try {
      // A copy: a short list would otherwise hold the blocks around it.
      return new Uint32Array(this.#read(at, n * 4, true).buffer, 0, n);
    } catch (e) {
      if (e instanceof SidecarDamage) return undefined;
      throw e;
    }
  }

  #listLength(dim: 0 | 1, list: number): number {
    const starts = this.#starts[dim];
    return (list + 1 < starts.length ? starts[list + 1] : this.rows) - starts[list];
  }

  idTable(): Uint32Array | undefined {
    try {
      const bytes = this.#read(this.#layout.idAt, this.#header.idSlots * 4, false);
      return new Uint32Array(bytes.buffer, bytes.byteOffset, this.#header.idSlots);
    } catch (e) {
      if (e instanceof SidecarDamage) return undefined;
      throw e;
    }
  }

  close(): void {
    this.#h?.close();
    this.#h = undefined;
  }
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

/**
 * Why rows `from .. from + rows` (0-based), in `columns` from their first,
 * cannot be trusted, or how many of them have their timestamp in the side
 * table.
 */
function checkRows(
  columns: Map<string, ArrayBufferView>,
  from: number,
  rows: number,
  header: Header,
  index: Index,
): number | string {
  const { entityCount, scopeCount } = header;
  const coveredSegment = header.coverage.segment;
  const ent = columns.get("ent") as Uint32Array;
  const scp = columns.get("scp") as Uint32Array;
  const seg = columns.get("seg") as Uint32Array;
  const len = columns.get("len") as Uint32Array;
  const lag = columns.get("lag") as Int32Array;
  let elsewhere = 0;
  for (let i = 0; i < rows; i++) {
    if (ent[i] >= entityCount || scp[i] >= scopeCount) {
      return "row names an unknown entity or scope";
    }
    if (seg[i] < 1 || seg[i] > coveredSegment || len[i] > FRAME_BYTES_MAX) {
      return "row points outside the covered log";
    }
    if (lag[i] === LAG_ELSEWHERE) {
      if (!index.timestamps.has(from + i + 1)) return "a row's timestamp is missing";
      elsewhere++;
    }
  }
  return elsewhere;
}

/**
 * Where column `name` of page `page` starts in the version-3 sidecar
 * `bytes`, and the body's start (for tests that forge a sidecar's rows).
 */
export function sidecarColumnAt(bytes: Uint8Array, page: number, name: string): number {
  const { bodyStart, layout, header } = layoutOf(bytes);
  const rows = Math.min(PAGE_ROWS, header.count - page * PAGE_ROWS);
  let at = bodyStart + layout.pageAt[page];
  for (const c of COLUMNS) {
    if (c.name === name) return at;
    at += pad(rows * c.words * c.width);
  }
  throw new RangeError(`no column ${name}`);
}

function layoutOf(bytes: Uint8Array): { bodyStart: number; layout: BodyLayout; header: Header } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const kind = dv.getUint16(6, true) === 1 ? "image" : "checkpoint";
  const header = {
    count: dv.getUint32(8, true),
    entityCount: dv.getUint32(12, true),
    scopeCount: dv.getUint32(16, true),
    metaLength: dv.getUint32(40, true),
    idSlots: dv.getUint32(48, true),
  } as Header;
  const layout = bodyLayout(header.count, header.idSlots);
  const blocks = Math.ceil(layout.bytes / BLOCK_BYTES);
  const bodyStart = SIDECAR_HEADER_BYTES +
    headBytes(header.metaLength, header.entityCount, header.scopeCount, kind === "image", blocks);
  return { bodyStart, layout, header };
}

/**
 * Recompute every CRC of the sidecar `bytes` in place — the header's, and
 * in version 3 each body block's and the head's (versions 1 and 2: the
 * body's) — so a test's forged contents reach the checks behind them. A
 * version-3 sidecar whose size does not match its header gets the header
 * CRC only.
 */
export function resealSidecar(bytes: Uint8Array): void {
  if (bytes.length < SIDECAR_HEADER_BYTES) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (dv.getUint16(4, true) < 3) {
    dv.setUint32(44, crc32(bytes.subarray(SIDECAR_HEADER_BYTES)), true);
  } else {
    const { bodyStart, layout } = layoutOf(bytes);
    if (bodyStart + layout.bytes === bytes.length) {
      const blocks = Math.ceil(layout.bytes / BLOCK_BYTES);
      const crcsAt = bodyStart - pad(blocks * 4);
      for (let b = 0; b < blocks; b++) {
        const from = bodyStart + b * BLOCK_BYTES;
        const crc = crc32(bytes.subarray(from, Math.min(from + BLOCK_BYTES, bytes.length)));
        dv.setUint32(crcsAt + b * 4, crc, true);
      }
      dv.setUint32(44, crc32(bytes.subarray(SIDECAR_HEADER_BYTES, bodyStart)), true);
    }
  }
  dv.setUint32(52, crc32(bytes.subarray(0, 52)), true);
}

/**
 * Where the posting-list lengths (in the head) and the lists of each
 * dimension (in the body) start in the version-3 image `bytes` (for tests
 * that forge an image's lists).
 */
export function sidecarListsAt(bytes: Uint8Array): { lengthsAt: number; listsAt: number[] } {
  const { bodyStart, layout, header } = layoutOf(bytes);
  return {
    lengthsAt: SIDECAR_HEADER_BYTES + pad(header.metaLength) +
      pad(header.entityCount * HASH_BYTES),
    listsAt: layout.listsAt.map((at) => bodyStart + at),
  };
}
