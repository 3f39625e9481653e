/**
 * How the CLI prints one event.
 *
 * @module
 */

import type { EventKind, StoredEvent } from "../../mod.ts";
import { toJson } from "./_output.ts";

/** Hex digits of a kind: one for the category, three for the type. */
const KIND_HEX_DIGITS = 4;

/** A kind as `0xCTTT` (category nibble, then the 12-bit type). */
export function formatKind(kind: EventKind): string {
  return "0x" + kind.toString(16).padStart(KIND_HEX_DIGITS, "0");
}

/** One line: global sequence, time, entity/scope, sequence, kind, payload as JSON. */
export function eventLine(e: StoredEvent): string {
  return `#${e.globalSequence}  ${
    new Date(e.timestampMs).toISOString()
  }  ${e.entity} @ ${e.scope}` +
    `  seq ${e.sequence}  kind ${formatKind(e.kind)}  ${toJson(e.payload)}\n`;
}
