/**
 * `batpak verify <dir>`: re-read every frame and prove the log intact.
 *
 * @module
 */

import { CorruptSegmentError, type VerifyReport } from "../../mod.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, parseCommand } from "./_args.ts";
import { type CliIo, formatCount, formatMs, ProgressBar, toJson } from "./_output.ts";
import { openExisting, openPostgres, parseTarget, STORE_ARGUMENT_HELP } from "./_store.ts";

const HELP = `Usage: batpak verify <store> [--json]

Re-read every event and prove the store intact. A directory: frame CRCs,
batch markers, each event's hash, the per-entity hash chain and sequences,
the gapless global sequence, and that the index points at exactly these
frames; a damaged sealed segment found while opening counts as a problem. A
PostgreSQL store (PostgresStore.verify): every event re-encoded against its
hash, the hash chain, gapless per-entity sequences, positions and stream
heads, in one snapshot. Progress is drawn on stderr when it is a terminal.

${STORE_ARGUMENT_HELP}

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
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals, help } = parseCommand(args, { json: { type: "boolean" } }, [
      "store",
    ]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const target = parseTarget(positionals[0]);
    const started = performance.now();
    let report: VerifyReport;
    let truncatedBytes = 0;
    if (target.kind === "postgres") {
      const store = await openPostgres(target);
      try {
        const bar = new ProgressBar(io, "verify", 0);
        report = await store.verify({ onProgress: (checked, total) => bar.update(checked, total) });
        bar.finish();
      } finally {
        await store.close();
      }
    } else {
      ({ report, truncatedBytes } = verifyDir(target.dir, io));
    }
    const elapsedMs = performance.now() - started;
    // A PostgreSQL problem names the table and the event's global position.
    const at = target.kind === "postgres" ? "position" : "offset";
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
      for (const p of report.problems) io.out(`  ${p.file} at ${at} ${p.offset}: ${p.message}\n`);
    }
    if (report.ok) return EXIT_OK;
    const first = report.problems[0];
    io.err(
      `batpak verify: ${report.problems.length} problem(s) in ${target.label}; first: ${first.file} at ${at} ${first.offset}\n`,
    );
    return EXIT_FAILURE;
  },
};

/** Verify the store in `dir`: a sealed segment that fails at open is a problem, not an error. */
function verifyDir(dir: string, io: CliIo): { report: VerifyReport; truncatedBytes: number } {
  try {
    const store = openExisting(dir);
    try {
      const truncatedBytes = store.diagnostics().openReport.truncatedBytes;
      const bar = new ProgressBar(io, "verify", store.diagnostics().events);
      const report = store.verify({ onProgress: (checked, total) => bar.update(checked, total) });
      bar.finish();
      return { report, truncatedBytes };
    } finally {
      store.close();
    }
  } catch (e) {
    // A sealed segment that fails its checks at open is what verify exists to find.
    if (!(e instanceof CorruptSegmentError)) throw e;
    return {
      truncatedBytes: 0,
      report: {
        ok: false,
        eventsChecked: 0,
        problems: [{
          file: e.file,
          offset: e.offset,
          message: e.message.replace(/^corrupt segment \S+ at offset \d+: /, ""),
        }],
      },
    };
  }
}
