/**
 * `verify()` on PostgreSQL: re-read every event in one consistent snapshot
 * (a read-only repeatable-read transaction, which needs no transaction id
 * and so never holds consumers back), entity by entity in sequence order,
 * a page at a time, and check what the embedded `verify()` checks of a log:
 * each event's hash is the BLAKE3 of its re-encoded body, each `prev_hash`
 * is the entity's previous `event_hash`, sequences run 1, 2, 3 with no gap,
 * every position belongs to its transaction, payloads decode, and each
 * stream head (`streams`) matches its entity's last event. Problems are
 * reported, not thrown: `file` is the table, `offset` the global position.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import type { VerifyProblem, VerifyReport } from "../core/types.ts";
import { bodyParts, TX_POSITIONS } from "./_append.ts";
import {
  decodePayload,
  eventBodyLength,
  fromHex,
  HASH_BYTES,
  type IdWords,
  requireId,
  toHex,
  writeEventBody,
} from "./_engine.ts";
import { plainBytes } from "./_rows.ts";
import { inTransaction } from "./_tx.ts";

/** Events per page of the scan. */
const VERIFY_PAGE_EVENTS = 1000;
/** Problems reported at most (a damaged table should not produce a report of its own size). */
const PROBLEMS_MAX = 1000;
/** Progress is reported every this many events. */
const PROGRESS_EVERY_EVENTS = 10_000;

interface VerifyRow {
  g: string;
  tx: string;
  id: string;
  entity: string;
  scope: string;
  kind: number;
  seq: number;
  timestamp_ms: number;
  corr: string | null;
  caus: string | null;
  idempotency_key: string | null;
  payload: Uint8Array;
  prev_hash: Uint8Array | null;
  event_hash: Uint8Array;
}

const textEncoder = new TextEncoder();

function uuidBytes(id: string): Uint8Array {
  const w = requireId("id", id);
  const b = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    b[i * 4] = w[i] >>> 24;
    b[i * 4 + 1] = (w[i] >>> 16) & 255;
    b[i * 4 + 2] = (w[i] >>> 8) & 255;
    b[i * 4 + 3] = w[i] & 255;
  }
  return b;
}

function keyParts(key: string | null): { bytes: Uint8Array | null; isString: boolean } {
  if (key === null) return { bytes: null, isString: false };
  if (key.startsWith("s:")) return { bytes: textEncoder.encode(key.slice(2)), isString: true };
  return { bytes: fromHex(key.slice(2)), isString: false };
}

/** Scan the schema's events; see the module doc. */
export async function verifyEvents(
  sql: postgres.Sql,
  table: string,
  xidBase: bigint,
  onProgress?: (checked: number, total: number) => void,
): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  let checked = 0;
  const report = (offset: number, message: string) => {
    if (problems.length < PROBLEMS_MAX) problems.push({ file: table, offset, message });
  };
  await inTransaction(sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
    const [{ total }] = await tx`SELECT count(*)::float8 AS total FROM events`;
    let heads = new Map<string, { last: number; hash: string }>();
    let head: { last: number; hash: string } | undefined;
    let entity = "";
    let sequence = 0;
    let prev = "";
    const closeEntity = (at: number) => {
      if (entity === "") return;
      if (!head) report(at, `entity "${entity}" has events but no stream head`);
      else if (head.last !== sequence || head.hash !== prev) {
        report(
          at,
          `stream head of "${entity}" says sequence ${head.last}, its last event is ${sequence}`,
        );
      }
    };
    let afterEntity = "";
    let afterSeq = 0;
    for (;;) {
      const rows = await tx`
        SELECT global_position::text AS g, tx_id::text AS tx, event_id::text AS id, entity, scope,
          kind, sequence::float8 AS seq, timestamp_ms, correlation_id::text AS corr,
          causation_id::text AS caus, idempotency_key, payload, prev_hash, event_hash
        FROM events WHERE (entity, sequence) > (${afterEntity}, ${afterSeq})
        ORDER BY entity, sequence LIMIT ${VERIFY_PAGE_EVENTS}` as unknown as VerifyRow[];
      const names = [...new Set(rows.map((r) => r.entity))];
      heads = new Map();
      for (
        const r of await tx`SELECT entity, last_sequence::float8 AS last, last_hash FROM streams
          WHERE entity = ANY(${names}::text[])`
      ) heads.set(r.entity, { last: r.last, hash: r.last_hash ? toHex(r.last_hash) : "" });
      for (const r of rows) {
        const g = Number(r.g);
        if (r.entity !== entity) {
          closeEntity(g);
          entity = r.entity;
          head = heads.get(entity);
          sequence = 0;
          prev = "";
        }
        if (r.seq !== sequence + 1) {
          report(g, `entity "${entity}": sequence ${r.seq} follows ${sequence}`);
        }
        const prevHash = r.prev_hash ? toHex(r.prev_hash) : "";
        if (prevHash !== prev) {
          report(
            g,
            `entity "${entity}" sequence ${r.seq}: prev_hash does not link to the event before`,
          );
        }
        const position = BigInt(r.g) - 1n;
        if (position / TX_POSITIONS + xidBase !== BigInt(r.tx)) {
          report(g, `global position ${r.g} does not belong to transaction ${r.tx}`);
        }
        const payload = plainBytes(r.payload);
        try {
          decodePayload(payload);
        } catch (e) {
          report(g, `payload does not decode: ${(e as Error).message}`);
        }
        const key = keyParts(r.idempotency_key);
        const words = requireId("event_id", r.id) as IdWords;
        const parts = bodyParts(
          words,
          {
            kind: r.kind,
            correlationBytes: r.corr ? uuidBytes(r.corr) : null,
            entityBytes: textEncoder.encode(r.entity),
            scopeBytes: textEncoder.encode(r.scope),
            keyBytes: key.bytes,
            keyIsString: key.isString,
            payload,
          },
          r.seq,
          r.timestamp_ms,
          r.prev_hash ? new Uint8Array(r.prev_hash) : null,
          r.caus ? uuidBytes(r.caus) : null,
        );
        const body = new Uint8Array(eventBodyLength(parts));
        const hashAt = writeEventBody(body, 0, parts);
        const hash = toHex(r.event_hash);
        if (toHex(body.subarray(hashAt, hashAt + HASH_BYTES)) !== hash) {
          report(g, `entity "${entity}" sequence ${r.seq}: event_hash is not the hash of its body`);
        }
        sequence = r.seq;
        prev = hash;
        checked++;
        if (onProgress && checked % PROGRESS_EVERY_EVENTS === 0) onProgress(checked, total);
      }
      if (rows.length < VERIFY_PAGE_EVENTS) break;
      afterEntity = rows[rows.length - 1].entity;
      afterSeq = rows[rows.length - 1].seq;
    }
    closeEntity(0);
    const orphans = await tx`
      SELECT entity, last_sequence::float8 AS last FROM streams s
      WHERE last_sequence > 0 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.entity = s.entity)
      LIMIT ${PROBLEMS_MAX}`;
    for (const o of orphans) {
      report(0, `stream head of "${o.entity}" (sequence ${o.last}) has no events`);
    }
    onProgress?.(checked, total);
  });
  return { ok: problems.length === 0, eventsChecked: checked, problems };
}
