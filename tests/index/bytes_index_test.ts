/**
 * BytesIndex (name bytes → id, the recovery scan's name lookup): its
 * recent-names cache keeps names of up to 32 bytes inline and longer ones by
 * reference; names that share a fingerprint (length and last three bytes)
 * share a slot. Every lookup must still name the right id, or -1.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { BytesIndex, hashBytes } from "../../src/index/bytes_index.ts";

const utf8 = new TextEncoder();

/** A BytesIndex over `names` (id = position), as a scan builds it. */
function indexOf(names: string[]): BytesIndex {
  const bytes = names.map((n) => utf8.encode(n));
  const index = new BytesIndex((id) => bytes[id]);
  bytes.forEach((b, id) => index.add(hashBytes(b, 0, b.length), id));
  return index;
}

/** Look `name` up from inside a larger buffer, as a frame holds it. */
function lookup(index: BytesIndex, name: string, pad = 5): number {
  const b = utf8.encode(name);
  const buf = new Uint8Array(b.length + 2 * pad).fill(0x7a);
  buf.set(b, pad);
  return index.lookup(buf, pad, b.length);
}

Deno.test("BytesIndex: names sharing a slot, around the inline limit and past it, alternate correctly", () => {
  const tail = "xyz";
  const names: string[] = [];
  for (const length of [3, 4, 31, 32, 33, 40, 200]) {
    // Same length and last three bytes: the same slot of the recent-names cache.
    for (const lead of ["a", "b", "c"]) names.push(lead.repeat(Math.max(0, length - 3)) + tail);
  }
  const unique = [...new Set(names)];
  const index = indexOf(unique);
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < unique.length; k++) {
      assert.equal(lookup(index, unique[k]), k, unique[k]);
      assert.equal(lookup(index, unique[k], 0), k, `${unique[k]} at offset 0`);
    }
    for (let k = unique.length - 1; k >= 0; k--) assert.equal(lookup(index, unique[k]), k);
  }
  assert.equal(lookup(index, "d".repeat(29) + tail), -1, "an unknown name sharing a slot");
  assert.equal(lookup(index, "zz" + tail), -1);
});

Deno.test("BytesIndex: random names and lookup orders agree with a Map", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 45 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 200 }),
      fc.string({ minLength: 1, maxLength: 45 }),
      (names, order, stranger) => {
        const index = indexOf(names);
        const ids = new Map(names.map((n, i) => [n, i]));
        for (const k of order) {
          const name = names[k % names.length];
          assert.equal(lookup(index, name), ids.get(name));
        }
        assert.equal(lookup(index, stranger), ids.get(stranger) ?? -1);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("BytesIndex: remember makes a new name's next lookup a hit", () => {
  const bytes: Uint8Array[] = [];
  const index = new BytesIndex((id) => bytes[id]);
  for (const name of ["order:1", "order:2", "a".repeat(50)]) {
    const b = utf8.encode(name);
    assert.equal(index.lookup(b, 0, b.length), -1);
    bytes.push(b);
    index.remember(b, 0, b.length, bytes.length - 1);
    assert.equal(index.lookup(b, 0, b.length), bytes.length - 1);
  }
});
