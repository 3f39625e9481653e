/**
 * `batpak inspect <dir>`: what a store holds and how it opens.
 *
 * @module
 */

import { join } from "node:path";
import { Region } from "../../mod.ts";
import { type Command, EXIT_OK, parseCommand } from "./_args.ts";
import { type CliIo, formatBytes, formatCount, formatMs, renderTable, toJson } from "./_output.ts";
import type { PostgresStore } from "../postgres/mod.ts";
import {
  listSegments,
  openExisting,
  openPostgres,
  parseTarget,
  SEGMENT_FILE_PATTERN,
  STORE_ARGUMENT_HELP,
  type StoreFile,
} from "./_store.ts";

const HELP = `Usage: batpak inspect <store> [--json]

Describe a store. A directory: events, entities, segment files and sidecars
with their sizes, and how the index was restored (index image, checkpoint or
full scan) with the time it took. It is opened read-only: no lock, nothing on
disk changes (a torn tail is read around and reported, not cut). A
PostgreSQL store: events, entities, saved cursors, leases, the schema version
and the size of its tables.

${STORE_ARGUMENT_HELP}

Options:
  --json      print one JSON object instead of text
  -h, --help  show this help

Exit codes: 0 ok, 1 the store cannot be opened, 2 bad command line.
`;

/** How each open path reads in text output. */
export const OPEN_PATH_LABEL: Readonly<Record<string, string>> = {
  image: "index image",
  checkpoint: "checkpoint + tail scan",
  rebuild: "full scan",
};

function otherFiles(dir: string): StoreFile[] {
  const files: StoreFile[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && !SEGMENT_FILE_PATTERN.test(entry.name) && entry.name !== "LOCK") {
      files.push({ name: entry.name, bytes: Deno.statSync(join(dir, entry.name)).size });
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

const isoTime = (ms: number | undefined) => ms === undefined ? "-" : new Date(ms).toISOString();

/** The `inspect` command. */
export const inspect: Command = {
  name: "inspect",
  summary: "events, entities, segments, sizes and the open path of a store",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals, help } = parseCommand(args, { json: { type: "boolean" } }, [
      "store",
    ]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const target = parseTarget(positionals[0]);
    if (target.kind === "postgres") {
      const store = await openPostgres(target);
      return await inspectPostgres(store, target.label, values.json === true, io);
    }
    const dir = target.dir;
    const store = openExisting(dir);
    let summary;
    try {
      const d = store.diagnostics();
      const all = Region.all().withSystem(); // the log's first and last events, whatever they are
      const first = store.queryAfter(all, 0, 1)[0]?.timestampMs;
      const last = store.queryAfter(all, Math.max(0, d.events - 1), 1)[0]?.timestampMs;
      summary = {
        dir,
        events: d.events,
        entities: d.entities,
        lifecycle: d.lifecycle,
        firstTimestampMs: first,
        lastTimestampMs: last,
        openReport: d.openReport,
        segments: listSegments(dir),
        sidecars: otherFiles(dir),
      };
    } finally {
      store.close();
    }
    if (values.json) {
      io.out(toJson(summary, 2) + "\n");
      return EXIT_OK;
    }
    const r = summary.openReport;
    const segmentBytes = summary.segments.reduce((sum, f) => sum + f.bytes, 0);
    const rows = [
      ["store", dir],
      ["events", formatCount(summary.events)],
      ["entities", formatCount(summary.entities)],
      ["time span", `${isoTime(summary.firstTimestampMs)} .. ${isoTime(summary.lastTimestampMs)}`],
      ["segments", `${summary.segments.length} (${formatBytes(segmentBytes)})`],
      [
        "open path",
        `${r.path} (${OPEN_PATH_LABEL[r.path] ?? r.path}): ${
          formatCount(r.restoredEntries)
        } restored + ${formatCount(r.tailEntries)} scanned in ${formatMs(r.elapsedMs)}`,
      ],
      [
        "torn tail",
        r.truncatedBytes === 0 ? "none" : `cut ${r.truncatedBytes} bytes from the last segment`,
      ],
    ];
    const l = summary.lifecycle;
    rows.push([
      "lifecycle",
      `${formatCount(l.deletedStreams)} deleted stream(s) (tombstones), ` +
      `${formatCount(l.truncatedStreams)} truncated, ${formatCount(l.retentionPolicies)} ` +
      `retention polic${l.retentionPolicies === 1 ? "y" : "ies"}, ` +
      `${formatCount(l.redactedEvents)} redacted event(s)`,
    ]);
    for (const why of r.rejectedSidecars) rows.push(["rejected sidecar", why]);
    io.out(renderTable(rows));
    io.out("\nfiles\n");
    io.out(renderTable(
      [...summary.segments, ...summary.sidecars].map((f) => [f.name, formatBytes(f.bytes)]),
      "  ",
    ));
    return EXIT_OK;
  },
};

/** `inspect` of a PostgreSQL store: {@linkcode PostgresStore.diagnostics}. */
async function inspectPostgres(
  store: PostgresStore,
  label: string,
  json: boolean,
  io: CliIo,
): Promise<number> {
  let d;
  try {
    d = await store.diagnostics();
  } finally {
    await store.close();
  }
  if (json) {
    io.out(toJson({ backend: "postgres", ...d }, 2) + "\n");
    return EXIT_OK;
  }
  const version = d.schemaVersion === d.clientSchemaVersion
    ? `${d.schemaVersion}`
    : `${d.schemaVersion} (this client: ${d.clientSchemaVersion})`;
  io.out(renderTable([
    ["store", label],
    ["backend", "PostgreSQL"],
    ["schema version", version],
    ["events", formatCount(d.events)],
    ["entities", formatCount(d.entities)],
    ["time span", `${isoTime(d.firstTimestampMs)} .. ${isoTime(d.lastTimestampMs)}`],
    ["last position", `${formatCount(d.lastGlobalSequence)} (positions have gaps: not a count)`],
    ["cursors", formatCount(d.cursors)],
    ["leases", formatCount(d.leases)],
    ["tables", formatBytes(d.tableBytes)],
  ]));
  return EXIT_OK;
}
