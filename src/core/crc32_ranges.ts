/**
 * CRC-32 of many byte ranges of one buffer in one call: how the read path
 * checks every frame of a run it fetched with one read. Same results as
 * {@linkcode crc32Range} per range (zlib's CRC-32).
 *
 * Ranges shorter than {@linkcode NATIVE_CRC32_MIN_BYTES} go through a
 * WebAssembly copy of the slicing-by-16 loop (`crc32.wat`), one call for the
 * whole list after one copy of the bytes they span into its memory: a run of
 * 256 frames of 101 B measured 1.28× faster than crc32Range frame by frame
 * (38.5 µs against 49.1 µs, `deno bench -A bench/crc32_bench.ts`). Longer
 * ranges go to the runtime's native CRC when one is registered. Where
 * WebAssembly is missing or refused (a page whose CSP forbids it) everything
 * stays in TypeScript.
 *
 * The module keeps one scratch memory per JavaScript realm; a call uses it
 * only while it runs (nothing is kept between calls).
 *
 * @module
 */

import { crc32Range, NATIVE_CRC32_MIN_BYTES, nativeCrc32, SLICING_TABLES } from "./crc32.ts";
import { CRC32_WASM } from "./_crc32_wasm.ts";

/** Ranges per call into the module (the scratch list's capacity). */
const RANGES_PER_CALL = 1024;
const LIST_AT = SLICING_TABLES.byteLength;
const OUT_AT = LIST_AT + RANGES_PER_CALL * 8;
const DATA_AT = OUT_AT + RANGES_PER_CALL * 4;
const WASM_PAGE_BYTES = 65_536;
/** Spans longer than this stay in TypeScript rather than grow the scratch memory further. */
const WASM_SPAN_BYTES_MAX = 64 * 1024 * 1024;

interface Module {
  memory: WebAssembly.Memory;
  crcs(list: number, n: number, out: number, base: number): void;
  heap: Uint8Array;
  list: Int32Array;
  out: Int32Array;
}

/** undefined: not tried yet; null: unavailable here. */
let wasm: Module | null | undefined;
let forceTypeScript = false;

function load(): Module | null {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(CRC32_WASM as BufferSource));
    const exports = instance.exports as unknown as Pick<Module, "memory" | "crcs">;
    const m = { memory: exports.memory, crcs: exports.crcs } as Module;
    views(m);
    new Int32Array(m.memory.buffer, 0, SLICING_TABLES.length).set(SLICING_TABLES);
    return m;
  } catch {
    return null;
  }
}

function views(m: Module): void {
  m.heap = new Uint8Array(m.memory.buffer);
  m.list = new Int32Array(m.memory.buffer, LIST_AT, RANGES_PER_CALL * 2);
  m.out = new Int32Array(m.memory.buffer, OUT_AT, RANGES_PER_CALL);
}

/** Whether calls use the WebAssembly loop (false: this realm refused the module, or a test turned it off). */
export function crc32RangesUseWasm(): boolean {
  if (forceTypeScript) return false;
  return (wasm ??= load()) !== null;
}

/**
 * For tests: `true` makes every call take the TypeScript path; returns the
 * setting before.
 */
export function forceTypeScriptCrc32Ranges(on: boolean): boolean {
  const before = forceTypeScript;
  forceTypeScript = on;
  return before;
}

/**
 * `out[k] = crc32Range(buf, bounds[2k], bounds[2k + 1])` for each `k < n`.
 *
 * @param buf The bytes.
 * @param bounds Start and end (exclusive) of each range in `buf`, in pairs.
 * @param n How many ranges.
 * @param out Receives the CRCs (unsigned).
 * @throws {RangeError} When a range is not `0 <= start <= end <= buf.length`
 *   (as {@linkcode crc32Range}), or `bounds`/`out` hold fewer than `n`.
 *
 * @example
 * ```ts
 * import { crc32Range } from "./crc32.ts";
 * import { crc32Ranges } from "./crc32_ranges.ts";
 * const bytes = new TextEncoder().encode("..123456789..abc");
 * const out = new Uint32Array(2);
 * crc32Ranges(bytes, Int32Array.of(2, 11, 13, 16), 2, out);
 * console.log(out[0].toString(16)); // cbf43926
 * if (out[1] !== crc32Range(bytes, 13, 16)) throw new Error("differs");
 * ```
 */
export function crc32Ranges(
  buf: Uint8Array,
  bounds: Int32Array,
  n: number,
  out: Uint32Array,
): void {
  if (!Number.isInteger(n) || n < 0 || bounds.length < 2 * n || out.length < n) {
    throw new RangeError(
      `crc32Ranges: expected ${n} ranges, found ${bounds.length >> 1} bounds and room for ` +
        `${out.length} results`,
    );
  }
  const m = crc32RangesUseWasm() ? wasm! : null;
  for (let from = 0; from < n; from += RANGES_PER_CALL) {
    const to = Math.min(n, from + RANGES_PER_CALL);
    if (m === null || !group(m, buf, bounds, from, to, out)) {
      for (let k = from; k < to; k++) out[k] = crc32Range(buf, bounds[2 * k], bounds[2 * k + 1]);
    }
  }
}

/** Ranges `from .. to` through the module; false (nothing done) when their span is too long. */
function group(
  m: Module,
  buf: Uint8Array,
  bounds: Int32Array,
  from: number,
  to: number,
  out: Uint32Array,
): boolean {
  const native = nativeCrc32();
  const nativeMin = native === undefined ? Infinity : NATIVE_CRC32_MIN_BYTES;
  let lo = buf.length;
  let hi = 0;
  for (let k = from; k < to; k++) {
    const start = bounds[2 * k];
    const end = bounds[2 * k + 1];
    if (!(start >= 0 && start <= end && end <= buf.length)) {
      crc32Range(buf, start, end); // throws the RangeError that names them
    }
    if (end - start >= nativeMin) continue;
    if (start < lo) lo = start;
    if (end > hi) hi = end;
  }
  if (hi - lo > WASM_SPAN_BYTES_MAX) return false;
  if (lo < hi) {
    const need = DATA_AT + (hi - lo);
    if (need > m.memory.buffer.byteLength) {
      m.memory.grow(Math.ceil((need - m.memory.buffer.byteLength) / WASM_PAGE_BYTES));
      views(m);
    }
    m.heap.set(buf.subarray(lo, hi), DATA_AT);
  }
  const list = m.list;
  for (let k = from, w = 0; k < to; k++, w += 2) {
    const start = bounds[2 * k];
    const end = bounds[2 * k + 1];
    if (end - start >= nativeMin) {
      list[w] = list[w + 1] = 0; // empty here; the native CRC below
    } else {
      list[w] = start - lo;
      list[w + 1] = end - lo;
    }
  }
  m.crcs(LIST_AT, to - from, OUT_AT, DATA_AT);
  const res = m.out;
  for (let k = from, r = 0; k < to; k++, r++) {
    const start = bounds[2 * k];
    const end = bounds[2 * k + 1];
    out[k] = end - start >= nativeMin ? native!(buf.subarray(start, end), 0) : res[r] >>> 0;
  }
  return true;
}
