/**
 * `Store.verify`: re-read every frame of every segment from the file system
 * and check it against itself and against the in-memory state the store
 * serves reads from:
 *
 * - each frame's magic, length and CRC, and batch markers pairing up;
 * - each event's BLAKE3 hash over its body, its entity's sequence and the
 *   link to the entity's previous hash (the hash chain), and that its
 *   payload decodes;
 * - the global sequence: gapless, in log order (a removed or reordered frame
 *   shows here even when every CRC is valid);
 * - index parity: every index row points at exactly this frame and holds
 *   its id, entity, scope, kind, sequence and timestamp; per-entity stream
 *   lengths and last hashes; every event in the posting list of its entity
 *   and of its scope, in order; idempotency keys; the system state (fences,
 *   cursor checkpoints) folded from the system events (an index image read
 *   lazily is read whole first: a damaged part is the one problem then);
 * - the active segment's zeroed preallocation past the log's end.
 *
 * After a damaged frame the check resynchronises on the next valid frame,
 * so one flipped byte does not hide the rest of the segment. Each problem
 * names the file and byte offset. At most {@linkcode VERIFY_PROBLEMS_MAX}
 * problems are listed.
 *
 * @module
 */

import { CorruptSegmentError, InvalidArgumentError } from "../core/errors.ts";
import { isSystemKind } from "../core/kind.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { bytesToId } from "../core/ids.ts";
import { PayloadDecodeError, type PayloadDecoder } from "../core/payload.ts";
import { SystemState } from "../core/system.ts";
import type { VerifyProblem, VerifyReport } from "../core/types.ts";
import { joinPath } from "../fs/path.ts";
import type { FileSystem } from "../fs/types.ts";
import { type Index, PAGE_BITS, PAGE_ROWS } from "../index/index.ts";
import {
  decodeText,
  EventHasher,
  expectedEventHash,
  hasPrev,
  keyString,
  prevMatches,
  readEventHeader,
} from "../log/event_codec.ts";
import { dataEnd, readWhole } from "../log/files.ts";
import { decodeMarker, FLAG_IN_BATCH, FrameCrcs, FrameKind, parseFrame } from "../log/frame.ts";
import { nextValidFrame } from "../log/frames.ts";
import {
  checkSegmentHeader,
  neverWritten,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from "../log/segment.ts";
import type { LogEnd } from "../log/writer.ts";

/** What verify reads: the files, and the in-memory state to check against them. */
export interface VerifySource {
  readonly fs: FileSystem;
  readonly dataDir: string;
  readonly segments: readonly number[];
  readonly end: LogEnd;
  readonly index: Index;
  readonly system: SystemState;
  readonly decoder: PayloadDecoder;
  /** True when another process may be writing this log (a read-only store). */
  readonly following: boolean;
  /** Hand buffered frames to the OS (so the files hold everything the index does). */
  flush(): void;
}

/** Progress is reported every this many events (and once at the end). */
export const VERIFY_PROGRESS_EVERY_EVENTS = 10_000;
/** Problems listed in a report; past this, one last entry counts the rest. */
export const VERIFY_PROBLEMS_MAX = 1000;

const PAGE_MASK = PAGE_ROWS - 1;

/** Options of `Store.verify`. */
export interface VerifyOptions {
  /** Called with (events checked, events in the index) as the check goes, and once at the end. */
  onProgress?: (checked: number, total: number) => void;
}

/** The last event seen of one entity. */
interface ChainLink {
  sequence: number;
  hash: Uint8Array;
  file: string;
  offset: number;
}

function equalBytes(a: Uint8Array, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[bAt + i]) return false;
  return true;
}

/** Canonical JSON (sorted keys), for comparing plain states. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (typeof x === "bigint") return `${x}n`;
    if (x && typeof x === "object" && !Array.isArray(x)) {
      return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return x;
  });
}

function checkOptions(options: unknown): VerifyOptions {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(`verify: options must be an object, found ${String(options)}`);
  }
  const onProgress = (options as VerifyOptions).onProgress;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new InvalidArgumentError("verify: onProgress must be a function");
  }
  return { onProgress };
}

/** Verify the whole log against itself and the store's in-memory state. */
export function verifyStore(s: VerifySource, options?: VerifyOptions): VerifyReport {
  const { onProgress } = checkOptions(options);
  const problems: VerifyProblem[] = [];
  let dropped = 0;
  const report = (file: string, offset: number, message: string): void => {
    if (problems.length < VERIFY_PROBLEMS_MAX) problems.push({ file, offset, message });
    else dropped++;
  };
  const writer = s.end;
  try {
    s.flush();
  } catch (e) {
    report(
      segmentName(writer.segment),
      writer.flushed,
      `buffered frames could not be written: ${(e as Error).message}`,
    );
  }
  const index = s.index;
  try {
    // Every page and list of an image read lazily, so the parity below is with all of it.
    index.readAll();
  } catch (e) {
    if (!(e instanceof CorruptSegmentError)) throw e;
    report(e.file, e.offset, e.message);
    return { ok: false, eventsChecked: 0, problems };
  }
  const total = index.count;
  const segments = [...s.segments];
  const chain = new Map<string, ChainLink>();
  const system = new SystemState();
  const digest = new Uint8Array(HASH_BYTES);
  const hasher = new EventHasher();
  let expectedG = 1;
  let checked = 0;

  for (const segment of segments) {
    const file = segmentName(segment);
    let buf: Uint8Array;
    try {
      buf = readWhole(s.fs, joinPath(s.dataDir, file));
    } catch (e) {
      report(file, 0, `unreadable: ${(e as Error).message}`);
      continue;
    }
    const active = segment === writer.segment;
    const headerProblem = checkSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES), segment);
    if (headerProblem) {
      // The last segment of an older version's interrupted rotation, empty or all zeros: no
      // event was ever in it, and recovery starts it afresh.
      if (active && neverWritten(buf)) continue;
      report(file, 0, `segment header: ${headerProblem}`);
      continue;
    }
    let end = buf.length;
    if (active) {
      // The active segment: the log ends at the writer's end; past it only zeroed preallocation.
      end = Math.min(writer.size, buf.length);
      if (buf.length < writer.size) {
        report(file, buf.length, `segment is ${buf.length} bytes, the log ends at ${writer.size}`);
      }
      // Beside a live writer the bytes past this reader's end are its newer frames (or one
      // being written): not a problem. Our own writer leaves only zeros there.
      if (!s.following) {
        // dataEnd scans the (megabyte) preallocation word-wise; findIndex only when it is dirty.
        const stray = dataEnd(buf) > end ? buf.subarray(end).findIndex((b) => b !== 0) : -1;
        if (stray >= 0) {
          report(file, end + stray, "non-zero bytes past the end of the log");
        }
      }
    } else if (segment > writer.segment) continue; // a follower's next segment: not read yet
    let at = SEGMENT_HEADER_BYTES;
    let inBatch = false;
    const crcs = new FrameCrcs();
    while (at < end) {
      const frame = parseFrame(buf, at, end, crcs);
      if (typeof frame === "string") {
        const next = nextValidFrame(buf, at + 1, end);
        report(
          file,
          at,
          `frame check failed: ${frame}; ` +
            (next < 0
              ? "rest of segment unreadable"
              : `${next - at} bytes skipped to the next valid frame at ${next}`),
        );
        if (next < 0) break;
        at = next;
        continue;
      }
      if (frame.kind === FrameKind.BatchBegin) {
        if (inBatch) report(file, at, "batch begin inside a batch");
        if (!decodeMarker(buf, frame.bodyAt, frame.bodyLength)) {
          report(file, at, "malformed batch begin");
        }
        inBatch = true;
        at += frame.frameLength;
        continue;
      }
      if (frame.kind === FrameKind.BatchCommit) {
        if (!inBatch || !decodeMarker(buf, frame.bodyAt, frame.bodyLength)) {
          report(file, at, "batch commit without begin");
        }
        inBatch = false;
        at += frame.frameLength;
        continue;
      }
      if (((frame.flags & FLAG_IN_BATCH) !== 0) !== inBatch) {
        report(file, at, "event frame outside its batch markers");
      }
      const h = readEventHeader(buf, frame.bodyAt, frame.bodyLength, frame.kind);
      if (typeof h === "string") {
        report(file, at, h);
        at += frame.frameLength;
        continue;
      }
      checked++;
      const g = h.globalSequence;
      if (g !== expectedG) {
        report(
          file,
          at,
          `global sequence ${g}, expected ${expectedG} (a frame removed, reordered or damaged)`,
        );
      }
      expectedG = g + 1;
      let entity = "";
      let scope = "";
      try {
        entity = decodeText(buf, h.entityAt, h.entityLength);
        scope = decodeText(buf, h.scopeAt, h.scopeLength);
      } catch {
        report(file, at, "entity or scope is not valid UTF-8");
      }
      const prev = chain.get(entity);
      const expectedSeq = (prev?.sequence ?? 0) + 1;
      if (h.sequence !== expectedSeq) {
        report(file, at, `entity "${entity}" sequence ${h.sequence}, expected ${expectedSeq}`);
      }
      // The hash: format 1 over the body; format 2 over its fields, the previous hash and the
      // payload's hash — so the whole chain is recomputed here, link by link.
      expectedEventHash(buf, h, prev?.hash ?? null, hasher, digest, 0);
      if (!equalBytes(digest, buf, h.hashAt)) {
        report(
          file,
          at,
          h.format === 1 || !prev
            ? "event hash does not match its body"
            : `event hash does not match its body and the hash chain of "${entity}"`,
        );
      }
      if (prev) {
        if (!hasPrev(h) || !prevMatches(buf, h, prev.hash, 0)) {
          report(file, at, `hash chain of "${entity}" broken at sequence ${h.sequence}`);
        }
      } else if (hasPrev(h)) {
        report(file, at, `first event of "${entity}" links to a previous hash`);
      }
      chain.set(entity, {
        sequence: h.sequence,
        hash: buf.slice(h.hashAt, h.hashAt + HASH_BYTES),
        file,
        offset: at,
      });
      if (g >= 1 && g <= total) {
        const i = g - 1;
        const page = index.page(i >>> PAGE_BITS);
        const r = i & PAGE_MASK;
        const id = bytesToId(buf, h.bodyAt);
        const mismatch: string[] = [];
        if (page.seg[r] !== segment || page.off[r] !== at || page.len[r] !== frame.frameLength) {
          mismatch.push(
            `location (index: ${segmentName(page.seg[r])} at ${page.off[r]}, ${page.len[r]} bytes)`,
          );
        }
        if (index.entities.names[page.ent[r]] !== entity) mismatch.push("entity");
        if (index.scopes.names[page.scp[r]] !== scope) mismatch.push("scope");
        if (page.kind[r] !== h.kind) mismatch.push("kind");
        if (index.sequenceOf(g) !== h.sequence) mismatch.push("sequence");
        if (index.timestampOf(g) !== h.timestampMs) mismatch.push("timestamp");
        for (let w = 0; w < 4; w++) {
          if (page.id[r * 4 + w] !== id[w]) {
            mismatch.push("event id");
            break;
          }
        }
        if (mismatch.length > 0) {
          report(
            file,
            at,
            `index row of global sequence ${g} does not match the frame: ${mismatch.join(", ")}`,
          );
        }
      } else {
        report(file, at, `global sequence ${g} is not in the index (${total} events)`);
      }
      let key: string | undefined;
      if (h.keyAt >= 0) {
        try {
          key = keyString(h.keyIsString, buf.subarray(h.keyAt, h.keyAt + h.keyLength));
        } catch {
          report(file, at, "idempotency key is not valid UTF-8");
        }
      }
      if (key !== undefined) {
        const known = index.keys.get(key);
        if (known !== g) {
          report(
            file,
            at,
            `idempotency key maps to global sequence ${known ?? "nothing"} in the index, ` +
              `the frame holds ${g}`,
          );
        }
      }
      // A payload that does not decode is an event no read can return.
      let payload: unknown;
      if (!h.erased) {
        try {
          payload = s.decoder.decode(buf, h.payloadAt, h.payloadEnd);
        } catch (e) {
          if (!(e instanceof PayloadDecodeError)) throw e;
          report(file, at, `payload does not decode: ${e.message}`);
        }
      }
      if (isSystemKind(h.kind)) system.apply(h.kind, scope, payload);
      if (onProgress && checked % VERIFY_PROGRESS_EVERY_EVENTS === 0) onProgress(checked, total);
      at += frame.frameLength;
    }
    if (inBatch) report(file, at, "batch without commit");
  }

  const lastFile = segmentName(segments[segments.length - 1] ?? writer.segment);
  if (expectedG - 1 !== total || checked !== total) {
    report(
      lastFile,
      0,
      `the log holds ${checked} events (last global sequence ${expectedG - 1}), ` +
        `the index ${total}`,
    );
  }
  for (const [entity, link] of chain) {
    const id = index.entities.lookup(entity);
    if (id < 0) {
      report(link.file, link.offset, `entity "${entity}" is not in the index`);
      continue;
    }
    if (index.lastSequence(id) !== link.sequence) {
      report(
        link.file,
        link.offset,
        `entity "${entity}" has ${link.sequence} events in the log, ` +
          `${index.lastSequence(id)} in the index`,
      );
    }
    if (!equalBytes(link.hash, index.entityHash(id), 0)) {
      report(link.file, link.offset, `entity "${entity}": last hash in the index differs`);
    }
  }
  for (let id = 0; id < index.entities.names.length; id++) {
    const name = index.entities.names[id];
    if (index.lastSequence(id) > 0 && !chain.has(name)) {
      report(lastFile, 0, `entity "${name}" is in the index but has no events in the log`);
    }
  }
  const derived = index.checkDerived();
  if (derived !== undefined) report(lastFile, 0, `the index's posting lists: ${derived}`);
  if (canonical(system.toPlain()) !== canonical(s.system.toPlain())) {
    report(
      lastFile,
      0,
      "the store's system state (fences, cursor checkpoints) differs from its system events",
    );
  }
  if (dropped > 0) {
    problems.push({ file: lastFile, offset: 0, message: `${dropped} more problems not listed` });
  }
  onProgress?.(checked, total);
  return { ok: problems.length === 0, eventsChecked: checked, problems };
}
