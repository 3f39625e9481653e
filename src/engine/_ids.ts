/**
 * Event id words read straight from a frame body.
 *
 * @module
 */

import type { IdWords } from "../core/ids.ts";

const scratch: IdWords = [0, 0, 0, 0];

/** Big-endian id words at `buf[at]`, into a reused array (the index copies them at once). */
export function readIdWords(buf: Uint8Array, at: number): IdWords {
  for (let i = 0; i < 4; i++) {
    const o = at + i * 4;
    scratch[i] = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
  }
  return scratch;
}
