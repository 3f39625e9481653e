/**
 * Receipts: what a write returns. The id and hash strings are formatted
 * only when read, so an append costs no string building.
 *
 * @module
 */

import { CorruptSegmentError } from "../core/errors.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { type EventId, formatId, type IdWords } from "../core/ids.ts";
import type { AppendReceipt } from "../core/types.ts";
import { toHex } from "../core/utf8.ts";
import { readEventFrame } from "../log/frames.ts";
import { segmentName } from "../log/segment.ts";
import type { Engine } from "../engine/engine.ts";

/** A receipt whose id and hash strings are formatted only when read. */
export class Receipt implements AppendReceipt {
  /** Position in the entity's stream. */
  readonly sequence: number;
  /** Position in the log. */
  readonly globalSequence: number;
  /** True when this is an earlier append's receipt (an idempotent retry). */
  readonly duplicate: boolean;
  readonly #w0: number;
  readonly #w1: number;
  readonly #w2: number;
  readonly #w3: number;
  readonly #hash: Uint8Array;
  constructor(
    sequence: number,
    globalSequence: number,
    id: IdWords,
    hash: Uint8Array,
    duplicate: boolean,
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
  /** The event's UUIDv7. */
  get eventId(): EventId {
    return formatId(this.#w0, this.#w1, this.#w2, this.#w3);
  }
  /** Hex BLAKE3 of the event. */
  get eventHash(): string {
    return toHex(this.#hash);
  }
  /** A plain-object copy. */
  toJSON(): AppendReceipt {
    return {
      eventId: this.eventId,
      sequence: this.sequence,
      globalSequence: this.globalSequence,
      eventHash: this.eventHash,
      duplicate: this.duplicate,
    };
  }
  /** How Deno's console shows it (the runtime passes its `inspect`). */
  [Symbol.for("Deno.customInspect")](inspect: (value: unknown) => string): string {
    return `AppendReceipt ${inspect(this.toJSON())}`;
  }
}

/** The receipt of the event at global sequence `g`, read back from the log (for a retry). */
export function receiptOf(engine: Engine, g: number): Receipt {
  const index = engine.index;
  const loc = index.location(g);
  const buf = engine.reader.readRaw(loc.segment, loc.offset, loc.length);
  const h = readEventFrame(buf, 0, loc.length);
  if (typeof h === "string") throw new CorruptSegmentError(segmentName(loc.segment), loc.offset, h);
  return new Receipt(
    h.sequence,
    g,
    index.idWords(g),
    buf.slice(h.hashAt, h.hashAt + HASH_BYTES),
    true,
  );
}
