/**
 * `batpak inspect <dir>`: what a store holds and how it opens.
 *
 * @module
 */

import { join } from "node:path";
import { Region } from "../../mod.ts";
import { type Command, EXIT_OK, parseCommand } from "./_args.ts";
import { type CliIo, formatBytes, formatCount, formatMs, renderTable, toJson } from "./_output.ts";
import { listSegments, openExisting, SEGMENT_FILE_PATTERN, type StoreFile } from "./_store.ts";

const HELP = `Usage: batpak inspect <dir> [--json]

Open the store in <dir> and describe it: events, entities, segment files and
sidecars with their sizes, and how the index was restored (index image,
checkpoint or full scan) with the time it took. Opening takes the store's
lock and runs normal recovery (a torn tail is cut back and reported).

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
  run(args: string[], io: CliIo): number {
    const { values, positionals, help } = parseCommand(args, { json: { type: "boolean" } }, [
      "dir",
    ]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const dir = positionals[0];
    const store = openExisting(dir);
    let summary;
    try {
      const d = store.diagnostics();
      const all = Region.all();
      const first = store.queryAfter(all, 0, 1)[0]?.timestampMs;
      const last = store.queryAfter(all, Math.max(0, d.events - 1), 1)[0]?.timestampMs;
      summary = {
        dir,
        events: d.events,
        entities: d.entities,
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
