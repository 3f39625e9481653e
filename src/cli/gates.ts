/**
 * `batpak gates`: run the correctness gates against a fresh temporary store.
 *
 * @module
 */

import { Coordinate, EventKind, Store } from "../../mod.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, parseCommand } from "./_args.ts";
import { correctnessGates, runCorrectnessGates } from "./_correctness.ts";
import { type CliIo, formatMs, renderTable } from "./_output.ts";

function gateList(): string {
  return correctnessGates().map((g) => `  ${g.name.padEnd(22)}${g.description}\n`).join("");
}

/** Events written to the temporary store before the gates run, so they have a log to check. */
const SEED_EVENTS = 1000;
/** Entities those events are spread over. */
const SEED_ENTITIES = 10;

function seed(store: Store): void {
  const kind = EventKind.custom(0x1, 1);
  const coords = Array.from(
    { length: SEED_ENTITIES },
    (_, i) => new Coordinate(`seed:${i}`, "seed"),
  );
  store.appendBatch(
    Array.from({ length: SEED_EVENTS }, (_, i) => ({
      coord: coords[i % SEED_ENTITIES],
      kind,
      payload: { i },
    })),
  );
}

const HELP = `Usage: batpak gates

Run the correctness gates against a fresh store in a temporary directory
(seeded with ${SEED_EVENTS} events, removed afterwards). Each gate is a Gate whose denial names the file to
investigate:

${gateList()}
Options:
  -h, --help  show this help

Exit codes: 0 every gate passed, 1 a gate denied, 2 bad command line.
`;

/** The `gates` command. */
export const gates: Command = {
  name: "gates",
  summary: "run the correctness gates (CAS, idempotency, batches, cursor, verify)",
  help: HELP,
  run(args: string[], io: CliIo): number {
    const { help } = parseCommand(args, {}, []);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const dir = Deno.makeTempDirSync({ prefix: "batpak-gates-" });
    try {
      const store = Store.open(dir);
      let outcomes;
      try {
        seed(store);
        outcomes = runCorrectnessGates({ store });
      } finally {
        store.close();
      }
      io.out(renderTable(outcomes.map((o) => [
        o.denial ? "FAIL" : "pass",
        o.name,
        formatMs(o.elapsedMs),
        o.denial ? String(o.denial) : o.description,
      ])));
      const denied = outcomes.filter((o) => o.denial).length;
      io.out(`\n${outcomes.length - denied}/${outcomes.length} correctness gates passed\n`);
      if (denied === 0) return EXIT_OK;
      io.err(`batpak gates: ${denied} gate(s) denied\n`);
      return EXIT_FAILURE;
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
};
