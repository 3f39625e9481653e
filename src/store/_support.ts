/**
 * Small pieces of the store facade: lazy receipts, byte slabs for hashes and
 * batch payloads, id helpers and argument checks.
 *
 * @module
 */

import { HASH_BYTES } from "../core/hash.ts";
import type { FenceCheck } from "../ownership/fence.ts";
import { InvalidArgumentError, ReservedKindError } from "../core/errors.ts";
import { type EventId, formatId, idToBytes, type IdWords, toHex } from "../core/ids.ts";
import { EventKind, isEventKind } from "../core/kind.ts";
import type { AppendReceipt } from "../core/types.ts";

/** A receipt whose id and hash strings are formatted only when read. */
export class Receipt implements AppendReceipt {
  readonly sequence: number;
  readonly globalSequence: number;
  readonly #w0: number;
  readonly #w1: number;
  readonly #w2: number;
  readonly #w3: number;
  readonly #hash: Uint8Array;
  readonly duplicate: boolean;
  constructor(
    sequence: number,
    globalSequence: number,
    id: IdWords,
    hash: Uint8Array,
    duplicate = false,
  ) {
    this.sequence = sequence;
    this.globalSequence = globalSequence;
    this.duplicate = duplicate;
    this.#w0 = id[0];
    this.#w1 = id[1];
    this.#w2 = id[2];
    this.#w3 = id[3];
    this.#hash = hash;
  }
  get eventId(): EventId {
    return formatId(this.#w0, this.#w1, this.#w2, this.#w3);
  }
  get eventHash(): string {
    return toHex(this.#hash);
  }
  toJSON(): AppendReceipt {
    return {
      eventId: this.eventId,
      sequence: this.sequence,
      globalSequence: this.globalSequence,
      eventHash: this.eventHash,
      duplicate: this.duplicate,
    };
  }
  [Symbol.for("Deno.customInspect")](): string {
    return `AppendReceipt ${Deno.inspect(this.toJSON())}`;
  }
}

/** Copies of short-lived byte views carved from shared chunks (one allocation per 64 KiB, not per item). */
export class ByteArena {
  #chunk = new Uint8Array(0);
  #at = 0;
  keep(view: Uint8Array): Uint8Array {
    if (view.length > ARENA_CHUNK_BYTES / 4) return view.slice();
    if (this.#at + view.length > this.#chunk.length) {
      this.#chunk = new Uint8Array(ARENA_CHUNK_BYTES);
      this.#at = 0;
    }
    const out = this.#chunk.subarray(this.#at, this.#at + view.length);
    out.set(view);
    this.#at += view.length;
    return out;
  }
}
const ARENA_CHUNK_BYTES = 64 * 1024;

/** Stands in for a batch item's prevHash until the earlier item it links to is hashed. */
export const HASH_PLACEHOLDER = new Uint8Array(HASH_BYTES);
const HASH_SLAB_BYTES = 64 * 1024;
let hashSlab = new Uint8Array(HASH_SLAB_BYTES);
let hashSlabAt = 0;

/** A stable copy of a 32-byte hash, carved from a shared slab (no ArrayBuffer per event). */
export function keepHash(src: Uint8Array, at: number): Uint8Array {
  if (hashSlabAt + HASH_BYTES > HASH_SLAB_BYTES) {
    hashSlab = new Uint8Array(HASH_SLAB_BYTES);
    hashSlabAt = 0;
  }
  const out = hashSlab.subarray(hashSlabAt, hashSlabAt + HASH_BYTES);
  out.set(src.subarray(at, at + HASH_BYTES));
  hashSlabAt += HASH_BYTES;
  return out;
}

const scanWords: IdWords = [0, 0, 0, 0];

/** Big-endian id words at `buf[at]`, into a reused array (the index copies them). */
export function readIdWords(buf: Uint8Array, at: number): IdWords {
  for (let i = 0; i < 4; i++) {
    const o = at + i * 4;
    scanWords[i] = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
  }
  return scanWords;
}

/** 16 big-endian bytes of id words. */
export function idBytes(words: IdWords): Uint8Array {
  const b = new Uint8Array(16);
  idToBytes(words, b);
  return b;
}

/** A short description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "an array";
  return typeof v === "object"
    ? `an object (${(v as object).constructor?.name ?? "null prototype"})`
    : typeof v;
}

/** Throw unless `kind` is an EventKind outside the reserved categories. */
export function checkUserKind(kind: unknown, where = "append"): void {
  if (!isEventKind(kind)) {
    throw new InvalidArgumentError(
      `${where}: kind must be an EventKind (u16), found ${describeValue(kind)}`,
    );
  }
  if (EventKind.isReserved(kind)) throw new ReservedKindError(EventKind.category(kind));
}

/** Check the shape of a fence option. */
export function validateFence(f: unknown, where: string): FenceCheck {
  const fence = f as { owner?: unknown; epoch?: unknown; token?: unknown };
  if (
    typeof fence !== "object" || fence === null || typeof fence.owner !== "string" ||
    typeof fence.token !== "string" || typeof fence.epoch !== "number" ||
    !Number.isInteger(fence.epoch) || fence.epoch < 1
  ) {
    throw new InvalidArgumentError(
      `${where}: fence must be { owner: string, epoch: integer ≥ 1, token: string }`,
    );
  }
  return { owner: fence.owner, epoch: fence.epoch, token: fence.token };
}
