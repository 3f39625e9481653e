/**
 * Upcasting: an event of a registered kind (`StoreConfig.kinds`) that was
 * written at an older schema version comes out of every read path in the
 * kind's current shape, through its upcasters, one version at a time. The
 * stored bytes (and so the hash chain) are never touched: the payload is
 * upcast each time it is read.
 *
 * - An event written without a version is version 1 (a kind's first
 *   shape, also what `EventKind.custom` appends wrote).
 * - A kind the store did not register is returned as stored.
 * - A redacted event has no payload: it is never upcast.
 * - An event written at a newer version than the registered kind
 *   throws {@linkcode UpcastError} (`"newer_version"`): the code is older
 *   than the data, and guessing its shape would hand the reader a payload
 *   that is not what its type says.
 * - An upcaster that throws: {@linkcode UpcastError} (`"upcaster_threw"`,
 *   the error in `cause`), naming the kind, the version and the event. The
 *   read fails; nothing else changes.
 *
 * The event's `schemaVersion` is the version of the payload it carries
 * (after upcasting: the kind's current one), set when above 1.
 *
 * @module
 */

import { UpcastError } from "../core/errors.ts";
import { kindHex, type KindRegistry } from "../core/kind_registry.ts";
import type { StoredEvent } from "../core/types.ts";

/**
 * Bring `event` (read from a frame whose schema version field is
 * `stored`, 0 when absent) to its registered kind's current version.
 */
export function upcastEvent(
  kinds: KindRegistry | undefined,
  event: StoredEvent,
  stored: number,
): void {
  // A redacted payload is gone (and a real payload never reads back as undefined).
  if (event.payload === undefined) return;
  let version = stored === 0 ? 1 : stored;
  const kind = kinds?.get(event.kind);
  if (kind !== undefined && version !== kind.version) {
    const which = event.eventId ?? `at global sequence ${event.globalSequence}`; // a replay's has no id
    const what = `${kind.name} (${kindHex(kind.code)}) event ${which}`;
    if (version > kind.version) {
      throw new UpcastError(
        kind.code,
        kind.name,
        version,
        "newer_version",
        `${what} was written at schema version ${version}; this code knows versions up to ${kind.version} (upgrade the reader)`,
      );
    }
    let payload: unknown = event.payload;
    for (; version < kind.version; version++) {
      try {
        payload = (kind.upcast[version] as (p: unknown) => unknown)(payload);
      } catch (e) {
        throw new UpcastError(
          kind.code,
          kind.name,
          version,
          "upcaster_threw",
          `${what}: the upcaster from schema version ${version} to ${version + 1} threw: ${
            e instanceof Error ? e.message : String(e)
          }`,
          { cause: e },
        );
      }
    }
    event.payload = payload;
  }
  if (version > 1) event.schemaVersion = version;
}
