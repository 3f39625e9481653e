/**
 * `Store.verify`: re-read every frame of every segment and check CRCs, batch
 * markers, each event's hash, the per-entity hash chain and sequences, the
 * gapless global sequence, and that the in-memory index points at exactly
 * these frames.
 *
 * @module
 */

import { join } from "node:path";
import { HASH_BYTES, hashInto } from "../log/hash.ts";
import { decodeText, readEventHeader } from "../log/event_codec.ts";
import { decodeMarker, FLAG_IN_BATCH, FrameKind, parseFrame } from "../log/frame.ts";
import { readWhole } from "../log/recovery.ts";
import { checkSegmentHeader, SEGMENT_HEADER_BYTES, segmentName } from "../log/segment.ts";
import { bytesToId } from "../store/ids.ts";
import type { StoreInternals } from "../store/store.ts";
import type { VerifyProblem, VerifyReport } from "../store/types.ts";

/** Progress is reported at most every this many events. */
export const VERIFY_PROGRESS_EVERY_EVENTS = 10_000;

function equalBytes(a: Uint8Array, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[bAt + i]) return false;
  return true;
}

/** Verify the whole log against itself and the index. */
export function verifyStore(
  s: StoreInternals,
  onProgress?: (checked: number, total: number) => void,
): VerifyReport {
  s.flush();
  const index = s.index;
  const problems: VerifyProblem[] = [];
  const chain = new Map<string, { seq: number; hash: Uint8Array }>();
  const digest = new Uint8Array(HASH_BYTES);
  let expectedG = 1;
  let checked = 0;
  const total = index.count;
  for (const segment of s.segments()) {
    const file = segmentName(segment);
    let buf: Uint8Array;
    try {
      buf = readWhole(s.fs, join(s.dataDir, file));
    } catch (e) {
      problems.push({ file, offset: 0, message: `unreadable: ${(e as Error).message}` });
      continue;
    }
    const headerProblem = checkSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES), segment);
    if (headerProblem) {
      problems.push({ file, offset: 0, message: `segment header: ${headerProblem}` });
      continue;
    }
    let at = SEGMENT_HEADER_BYTES;
    let inBatch = false;
    while (at < buf.length) {
      const frame = parseFrame(buf, at);
      if (typeof frame === "string") {
        problems.push({
          file,
          offset: at,
          message: `frame check failed: ${frame}; rest of segment unreadable`,
        });
        break;
      }
      if (frame.kind === FrameKind.BatchBegin) {
        if (inBatch) problems.push({ file, offset: at, message: "batch begin inside a batch" });
        inBatch = true;
      } else if (frame.kind === FrameKind.BatchCommit) {
        if (!inBatch || !decodeMarker(buf, frame.bodyAt, frame.bodyLength)) {
          problems.push({ file, offset: at, message: "batch commit without begin" });
        }
        inBatch = false;
      } else {
        if (((frame.flags & FLAG_IN_BATCH) !== 0) !== inBatch) {
          problems.push({ file, offset: at, message: "event frame outside its batch markers" });
        }
        const h = readEventHeader(buf, frame.bodyAt, frame.bodyLength);
        if (typeof h === "string") {
          problems.push({ file, offset: at, message: h });
          at += frame.frameLength;
          continue;
        }
        checked++;
        hashInto(buf.subarray(frame.bodyAt, h.hashAt), digest, 0);
        if (!equalBytes(digest, buf, h.hashAt)) {
          problems.push({ file, offset: at, message: "event hash does not match its body" });
        }
        if (h.globalSequence !== expectedG) {
          problems.push({
            file,
            offset: at,
            message:
              `global sequence ${h.globalSequence}, expected ${expectedG} (gap, removal or reorder)`,
          });
        }
        expectedG = h.globalSequence + 1;
        let entity = "";
        try {
          entity = decodeText(buf, h.entityAt, h.entityLength);
        } catch {
          problems.push({ file, offset: at, message: "entity is not valid UTF-8" });
        }
        const prev = chain.get(entity);
        const expectedSeq = (prev?.seq ?? 0) + 1;
        if (h.sequence !== expectedSeq) {
          problems.push({
            file,
            offset: at,
            message: `entity "${entity}" sequence ${h.sequence}, expected ${expectedSeq}`,
          });
        }
        if (prev) {
          if (h.prevHashAt < 0 || !equalBytes(prev.hash, buf, h.prevHashAt)) {
            problems.push({
              file,
              offset: at,
              message: `hash chain of "${entity}" broken at sequence ${h.sequence}`,
            });
          }
        } else if (h.prevHashAt >= 0) {
          problems.push({
            file,
            offset: at,
            message: `first event of "${entity}" links to a previous hash`,
          });
        }
        chain.set(entity, { seq: h.sequence, hash: buf.slice(h.hashAt, h.hashAt + HASH_BYTES) });
        const g = h.globalSequence;
        if (g >= 1 && g <= index.count) {
          const loc = index.location(g);
          const id = bytesToId(buf, h.bodyAt);
          const words = index.idWords(g);
          if (
            loc.segment !== segment || loc.offset !== at || loc.length !== frame.frameLength ||
            index.entities.names[index.entityOf(g)] !== entity || id.some((w, i) => w !== words[i])
          ) {
            problems.push({
              file,
              offset: at,
              message: `index entry for global sequence ${g} does not match the frame`,
            });
          }
        } else {
          problems.push({ file, offset: at, message: `global sequence ${g} is not in the index` });
        }
        if (onProgress && checked % VERIFY_PROGRESS_EVERY_EVENTS === 0) onProgress(checked, total);
      }
      at += frame.frameLength;
    }
    if (inBatch) problems.push({ file, offset: at, message: "batch without commit" });
  }
  if (expectedG - 1 !== index.count) {
    problems.push({
      file: segmentName(s.segments()[s.segments().length - 1] ?? 1),
      offset: 0,
      message: `the log holds ${expectedG - 1} events, the index ${index.count}`,
    });
  }
  onProgress?.(checked, total);
  return { ok: problems.length === 0, eventsChecked: checked, problems };
}
