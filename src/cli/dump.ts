/**
 * `batpak dump <dir> --entity E`: every event of one entity, in full.
 *
 * @module
 */

import type { StoredEvent } from "../../mod.ts";
import { CliError, type Command, EXIT_OK, parseCommand, UsageError } from "./_args.ts";
import { formatKind } from "./_event.ts";
import { type CliIo, renderTable, toJson } from "./_output.ts";
import { openExisting } from "./_store.ts";

const HELP = `Usage: batpak dump <dir> --entity ENTITY [--json]

Print every event of one entity (exact name) of the store in <dir>, in
sequence order, with ids, hash-chain links, correlation/causation ids and
the decoded payload.

Options:
  --entity ENTITY  the entity (required)
  --json           a JSON array of events (bigints as strings, bytes as { "$base64" })
  -h, --help       show this help

Exit codes: 0 ok, 1 the store cannot be opened or the entity has no events,
2 bad command line.
`;

function eventBlock(e: StoredEvent): string {
  const rows = [
    ["id", e.eventId],
    ["prevHash", e.prevHash || "-"],
    ["eventHash", e.eventHash],
  ];
  if (e.correlationId) rows.push(["correlationId", e.correlationId]);
  if (e.causationId) rows.push(["causationId", e.causationId]);
  rows.push(["payload", toJson(e.payload)]);
  return `seq ${e.sequence}  #${e.globalSequence}  ${new Date(e.timestampMs).toISOString()}  kind ${
    formatKind(e.kind)
  }  scope ${e.scope}\n` + renderTable(rows, "  ");
}

/** The `dump` command. */
export const dump: Command = {
  name: "dump",
  summary: "every event of one entity, in full (--json)",
  help: HELP,
  run(args: string[], io: CliIo): number {
    const { values, positionals, help } = parseCommand(args, {
      entity: { type: "string" },
      json: { type: "boolean" },
    }, ["dir"]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const entity = values.entity;
    if (entity === undefined) throw new UsageError("missing option '--entity <entity>'");
    const store = openExisting(positionals[0]);
    try {
      const entries = store.stream(entity);
      if (entries.length === 0) throw new CliError(`entity "${entity}" has no events`);
      const events = entries.map((entry) => store.get(entry.eventId));
      if (values.json) {
        io.out(toJson(events, 2) + "\n");
      } else {
        io.out(`${entity}: ${events.length} event(s)\n\n`);
        io.out(events.map(eventBlock).join("\n"));
      }
      return EXIT_OK;
    } finally {
      store.close();
    }
  },
};
