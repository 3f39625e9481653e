/**
 * UTF-8 and hex, byte-exact. The decoder keeps a leading U+FEFF (a plain
 * `TextDecoder` strips it as a byte-order mark, which once made `"\uFEFFa"`
 * and `"a"` the same entity after a reopen) and rejects invalid bytes
 * instead of replacing them.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The UTF-8 bytes of `text`. */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Encode `text` into `out` at `at`; returns the bytes written (out must have room: 3 per code unit). */
export function utf8EncodeInto(text: string, out: Uint8Array, at: number): number {
  return encoder.encodeInto(text, out.subarray(at)).written;
}

/** Decode `buf[at .. at+length)` exactly (throws `TypeError` on invalid UTF-8). */
export function utf8Decode(buf: Uint8Array, at: number, length: number): string {
  return decoder.decode(buf.subarray(at, at + length));
}

/** UTF-8 byte length of `text`, without encoding it. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
// Uint8Array.prototype.toHex (ES2026) is several times faster than a table loop where it exists.
const nativeToHex = (Uint8Array.prototype as { toHex?: (this: Uint8Array) => string }).toHex;

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  if (nativeToHex) return nativeToHex.call(bytes);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** Bytes of a hex string (even length, validated by the caller). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
