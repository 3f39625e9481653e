/**
 * `batpak verify <dir>`: re-read every frame and prove the log intact.
 *
 * @module
 */

import { CorruptSegmentError, type VerifyReport } from "../../mod.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, parseCommand } from "./_args.ts";
import { type CliIo, formatCount, formatMs, ProgressBar, toJson } from "./_output.ts";
import { openExisting } from "./_store.ts";

const HELP = `Usage: batpak verify <dir> [--json]

Open the store in <dir> and re-read every frame of every segment: frame CRCs,
batch markers, each event's hash, the per-entity hash chain and sequences,
the gapless global sequence, and that the index points at exactly these
frames. A damaged sealed segment found while opening counts as a problem.
Progress is drawn on stderr when it is a terminal.

Options:
  --json      print the report as JSON: { ok, eventsChecked, problems, ... }
  -h, --help  show this help

Exit codes: 0 no problems, 1 problems found (or the store cannot be opened),
2 bad command line.
`;

/** The `verify` command. */
export const verify: Command = {
  name: "verify",
  summary: "re-read every frame: CRCs, hash chain, index parity (exit 1 on problems)",
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
    const started = performance.now();
    let report: VerifyReport;
    let truncatedBytes = 0;
    try {
      const store = openExisting(dir);
      try {
        truncatedBytes = store.diagnostics().openReport.truncatedBytes;
        const bar = new ProgressBar(io, "verify", store.diagnostics().events);
        report = store.verify({ onProgress: (checked, total) => bar.update(checked, total) });
        bar.finish();
      } finally {
        store.close();
      }
    } catch (e) {
      // A sealed segment that fails its checks at open is what verify exists to find.
      if (!(e instanceof CorruptSegmentError)) throw e;
      report = {
        ok: false,
        eventsChecked: 0,
        problems: [{
          file: e.file,
          offset: e.offset,
          message: e.message.replace(/^corrupt segment \S+ at offset \d+: /, ""),
        }],
      };
    }
    const elapsedMs = performance.now() - started;
    if (values.json) {
      io.out(toJson({ ...report, truncatedBytes, elapsedMs: Math.round(elapsedMs) }, 2) + "\n");
    } else if (report.ok) {
      io.out(
        `ok: ${formatCount(report.eventsChecked)} events checked in ${
          formatMs(elapsedMs)
        }, no problems\n`,
      );
      if (truncatedBytes > 0) {
        io.out(`note: opening cut a torn tail of ${truncatedBytes} bytes from the last segment\n`);
      }
    } else {
      io.out(
        `FAILED: ${report.problems.length} problem(s), ${
          formatCount(report.eventsChecked)
        } events checked\n`,
      );
      for (const p of report.problems) io.out(`  ${p.file} at offset ${p.offset}: ${p.message}\n`);
    }
    if (report.ok) return EXIT_OK;
    const first = report.problems[0];
    io.err(
      `batpak verify: ${report.problems.length} problem(s) in ${dir}; first: ${first.file} at offset ${first.offset}\n`,
    );
    return EXIT_FAILURE;
  },
};
