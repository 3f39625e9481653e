/**
 * The replay sink: every event a scan of the log finds is checked against
 * what the engine already holds (global sequence, entity sequence, the link
 * to the entity's previous hash) and applied — at open and when a follower
 * reads what another process appended.
 *
 * @module
 */

import { CorruptSegmentError } from "../core/errors.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { isSystemKind } from "../core/kind.ts";
import { PayloadDecodeError } from "../core/payload.ts";
import { hasPrev, keyString, prevMatches } from "../log/event_codec.ts";
import { frameCrcAt } from "../log/frame.ts";
import type { ScanSink } from "../log/recovery.ts";
import { segmentName } from "../log/segment.ts";
import { readIdWords } from "./_ids.ts";
import type { Engine } from "./engine.ts";

/** The sink that replays scanned events into the engine, checking each against the log. */
export function replaySink(engine: Engine): ScanSink {
  const entities = engine.entityNames.byBytes();
  const scopes = engine.scopeNames.byBytes();
  let firstOfSegment = -1;
  // The segment's file name, for error messages: formatted once per segment, not per event.
  let nameOf = -1;
  let name = "";
  return {
    sealed(segment, size, lastFrameOffset, lastFrameCrc) {
      engine.sealed(segment, size, lastFrameOffset, lastFrameCrc);
    },
    event(segment, offset, frameLength, buf, h) {
      const index = engine.index;
      const g = index.count + 1;
      if (segment !== nameOf) (name = segmentName(segment), nameOf = segment);
      if (h.globalSequence !== g) {
        throw new CorruptSegmentError(
          name,
          offset,
          `global sequence ${h.globalSequence}, expected ${g}` +
            (segment !== firstOfSegment && segment > 1
              ? ` (the first event of ${name}: this segment, or the end of ${
                segmentName(segment - 1)
              }, is not the log's)`
              : ""),
        );
      }
      const boundary = segment !== firstOfSegment && segment > 1;
      firstOfSegment = segment;
      let entityId = entities.lookup(buf, h.entityAt, h.entityLength);
      if (entityId < 0) {
        entityId = engine.entityNames.intern(
          decodeName(buf, h.entityAt, h.entityLength, name, offset),
        );
        entities.remember(buf, h.entityAt, h.entityLength, entityId);
      }
      let scopeId = scopes.lookup(buf, h.scopeAt, h.scopeLength);
      if (scopeId < 0) {
        scopeId = engine.scopeNames.intern(decodeName(buf, h.scopeAt, h.scopeLength, name, offset));
        scopes.remember(buf, h.scopeAt, h.scopeLength, scopeId);
      }
      const expectedSeq = index.lastSequence(entityId) + 1;
      if (h.sequence !== expectedSeq) {
        throw new CorruptSegmentError(
          name,
          offset,
          `entity sequence ${h.sequence}, expected ${expectedSeq}`,
        );
      }
      if (expectedSeq > 1) {
        if (!prevMatches(buf, h, index.entityHashes, entityId * HASH_BYTES)) {
          throw new CorruptSegmentError(
            name,
            offset,
            "hash chain broken: prevHash does not match" +
              (boundary
                ? ` (at the start of ${name}: this segment or an earlier one was replaced)`
                : ""),
          );
        }
      } else if (hasPrev(h)) {
        throw new CorruptSegmentError(name, offset, "first event of an entity has a prevHash");
      }
      let key: string | null = null;
      if (h.keyAt >= 0) {
        try {
          key = keyString(h.keyIsString, buf.subarray(h.keyAt, h.keyAt + h.keyLength));
        } catch {
          // Only a forged frame (valid CRC) gets here: the writer encodes keys from strings.
          throw new CorruptSegmentError(name, offset, "idempotency key is not valid UTF-8");
        }
      }
      let system: unknown = undefined;
      if (isSystemKind(h.kind)) {
        try {
          system = engine.decoder.decode(buf, h.payloadAt, h.payloadEnd);
        } catch (e) {
          if (!(e instanceof PayloadDecodeError)) throw e;
          throw new CorruptSegmentError(name, offset, `system event payload: ${e.message}`);
        }
        system ??= null;
      }
      engine.apply(
        segment,
        offset,
        frameLength,
        entityId,
        scopeId,
        h.sequence,
        h.kind,
        h.timestampMs,
        readIdWords(buf, h.bodyAt),
        buf,
        h.hashAt,
        key,
        system,
      );
      // In place: no object per replayed event (nothing keeps a reference to it).
      const last = engine.lastFrame;
      last.segment = segment;
      last.offset = offset;
      last.crc = frameCrcAt(buf, offset);
    },
  };
}

function decodeName(
  buf: Uint8Array,
  at: number,
  length: number,
  file: string,
  offset: number,
): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      buf.subarray(at, at + length),
    );
  } catch {
    throw new CorruptSegmentError(file, offset, "a name is not valid UTF-8");
  }
}
