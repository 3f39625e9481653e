/**
 * The payload codec against the maintained MessagePack libraries, same run:
 * decoding (what every read pays) and encoding (what every append pays) of
 * the payload shapes events have — a small object of numbers and short
 * strings, the P2 batch item (one 50-character string), and a nested order.
 *
 *   deno bench -A bench/msgpack_bench.ts
 *
 * Ours validates while it encodes (getters read once, no Maps/class
 * instances/cycles, size capped) and keeps a leading U+FEFF, which neither
 * library does; the comparison says what that costs or saves.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- a bench-only peer, not a dependency of the store
import { Packr, Unpackr } from "npm:msgpackr@1.11.5";
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import { PayloadDecoder, PayloadEncoder } from "../src/core/payload.ts";

const SHAPES: Record<string, unknown> = {
  "small {amount, currency, account}": { amount: 125, currency: "EUR", account: "acct:42" },
  "batch item (50-char string)": "x".repeat(50),
  "order (nested, 3 lines)": {
    orderId: "ord-2026-000123",
    customer: { id: 981, name: "Ada Lovelace", tier: "gold" },
    lines: [
      { sku: "A-1", qty: 2, price: 9.99 },
      { sku: "B-7", qty: 1, price: 120 },
      { sku: "C-3", qty: 5, price: 0.5 },
    ],
    paid: true,
  },
};

const ours = new PayloadEncoder();
const oursDecoder = new PayloadDecoder();
// msgpackr's record extension changes the bytes; plain MessagePack is what the log holds.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
const N = 1_000;

for (const [name, value] of Object.entries(SHAPES)) {
  const bytes = ours.encode(value).slice();
  Deno.bench(`decode ${name}: ours`, { group: `decode ${name}`, baseline: true }, () => {
    for (let i = 0; i < N; i++) oursDecoder.decode(bytes, 0, bytes.length);
  });
  Deno.bench(`decode ${name}: @msgpack/msgpack`, { group: `decode ${name}` }, () => {
    for (let i = 0; i < N; i++) msgpackDecode(bytes);
  });
  Deno.bench(`decode ${name}: msgpackr`, { group: `decode ${name}` }, () => {
    for (let i = 0; i < N; i++) unpackr.unpack(bytes);
  });
  Deno.bench(
    `encode ${name}: ours (validating)`,
    { group: `encode ${name}`, baseline: true },
    () => {
      for (let i = 0; i < N; i++) ours.encode(value);
    },
  );
  Deno.bench(`encode ${name}: @msgpack/msgpack`, { group: `encode ${name}` }, () => {
    for (let i = 0; i < N; i++) msgpackEncode(value);
  });
  Deno.bench(`encode ${name}: msgpackr`, { group: `encode ${name}` }, () => {
    for (let i = 0; i < N; i++) packr.pack(value);
  });
}
