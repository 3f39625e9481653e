/**
 * How the CLI prints one event.
 *
 * @module
 */

import type { EventKind, StoredEvent } from "../../mod.ts";
import { toJson } from "./_output.ts";

/** Hex digits of a kind: one for the category, three for the type. */
const KIND_HEX_DIGITS = 4;

/** Where the CLI finds kind names: a store's `kindName` (absent: kinds print as numbers). */
export interface KindNameSource {
  /** The name recorded for a kind, or `undefined`. */
  kindName?(kind: EventKind): string | undefined;
}

/** A kind as `0xCTTT` (category nibble, then the 12-bit type). */
export function formatKind(kind: EventKind): string {
  return "0x" + kind.toString(16).padStart(KIND_HEX_DIGITS, "0");
}

/**
 * A kind as the CLI prints it: `Deposited (0x1004)` when the store has a
 * name for it (`EventKind.define`), else `kind 0x1004`; with the payload's
 * schema version when above 1 (`Deposited v3 (0x1004)`, `kind 0x1004 v3`).
 */
export function kindLabel(kind: EventKind, names?: KindNameSource, schemaVersion?: number): string {
  const name = names?.kindName?.(kind);
  const v = schemaVersion !== undefined && schemaVersion > 1 ? ` v${schemaVersion}` : "";
  return name === undefined ? `kind ${formatKind(kind)}${v}` : `${name}${v} (${formatKind(kind)})`;
}

/** One line: global sequence, time, entity/scope, sequence, kind, payload as JSON. */
export function eventLine(e: StoredEvent, names?: KindNameSource): string {
  return `#${e.globalSequence}  ${
    new Date(e.timestampMs).toISOString()
  }  ${e.entity} @ ${e.scope}` +
    `  seq ${e.sequence}  ${kindLabel(e.kind, names, e.schemaVersion)}  ${toJson(e.payload)}\n`;
}
