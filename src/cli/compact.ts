/**
 * `batpak compact <dir>`: erase the payloads of deleted, truncated, expired
 * and redacted events from the files, and reclaim the space.
 *
 * @module
 */

import { type CompactReport, Store } from "../../mod.ts";
import { CliError, type Command, EXIT_OK, parseCommand } from "./_args.ts";
import { type CliIo, formatBytes, formatCount, formatMs, ProgressBar, toJson } from "./_output.ts";
import { parseTarget, requireStoreDir } from "./_store.ts";

const HELP = `Usage: batpak compact <dir> [--json]

Rewrite the sealed segments of the store in <dir> without the payload bytes
of deleted, truncated, expired and redacted events (Store.compact), and
report the space reclaimed. The events stay as headers with their hashes:
global order, cursors and verify are unchanged. It opens the store for
writing, so no other process may hold it; a SIGKILL at any point loses
nothing, and running it again finishes the job. Progress (segments) is drawn
on stderr when it is a terminal. A read-only follower of the store must
reopen afterwards.

Options:
  --json      print the report as JSON: { segmentsRewritten, bytesBefore, ... }
  -h, --help  show this help

Exit codes: 0 done, 1 the store cannot be opened or compacted, 2 bad command line.
`;

/** The `compact` command. */
export const compact: Command = {
  name: "compact",
  summary: "erase deleted, truncated, expired and redacted payloads; reclaim space",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals, help } = parseCommand(args, { json: { type: "boolean" } }, [
      "dir",
    ]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const target = parseTarget(positionals[0]);
    if (target.kind !== "dir") {
      throw new CliError("compact works on a directory store (PostgreSQL keeps no segments)");
    }
    requireStoreDir(target.dir);
    const started = performance.now();
    const store = Store.open(target.dir);
    let report: CompactReport;
    try {
      const bar = new ProgressBar(io, "compact", 0);
      report = await store.compact({ onProgress: (done, total) => bar.update(done, total) });
      bar.finish();
    } finally {
      store.close();
    }
    const elapsedMs = performance.now() - started;
    if (values.json) {
      io.out(toJson({ ...report, elapsedMs: Math.round(elapsedMs) }, 2) + "\n");
      return EXIT_OK;
    }
    const saved = report.bytesBefore - report.bytesAfter;
    io.out(
      `compacted: ${formatCount(report.eventsDropped)} payload(s) erased in ` +
        `${formatCount(report.segmentsRewritten)} segment(s), ${
          formatBytes(report.bytesBefore)
        } → ` +
        `${formatBytes(report.bytesAfter)} (${formatBytes(Math.max(0, saved))} reclaimed) in ` +
        `${formatMs(elapsedMs)}\n`,
    );
    if (report.eventsNotErasable > 0) {
      io.out(
        `note: ${formatCount(report.eventsNotErasable)} event(s) of format 1 (written before ` +
          `format 2) keep their payload bytes; reads still hide them\n`,
      );
    }
    return EXIT_OK;
  },
};
