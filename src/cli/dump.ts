/**
 * `batpak dump <store> --entity E`: every event of one entity, in full
 * (`--prefix P`: of every entity starting with `P`).
 *
 * @module
 */

import type { Awaitable, ReadOptions, Region, StoredEvent } from "../../mod.ts";
import { CliError, type Command, EXIT_OK, parseCommand } from "./_args.ts";
import { kindLabel, type KindNameSource } from "./_event.ts";
import { type CliIo, renderTable, toJson } from "./_output.ts";
import {
  describeSelection,
  regionOf,
  SELECT_HELP,
  SELECT_OPTIONS,
  type Selection,
  selection,
} from "./_select.ts";
import { closeOpened, openTarget, parseTarget, STORE_ARGUMENT_HELP } from "./_store.ts";

/** Events per `read` page when dumping a prefix. */
export const DUMP_PAGE_EVENTS = 1000;

const HELP = `Usage: batpak dump <store> (--entity ENTITY | --prefix PREFIX) [--json]

Print every event of one entity (--entity: exactly that name), or of every
entity whose name starts with a prefix (--prefix: entity by entity, in name
order), in sequence order, with ids, hash-chain links, correlation/causation
ids and the decoded payload.

${STORE_ARGUMENT_HELP}

Options:
${SELECT_HELP}
                   (one of --entity and --prefix is required)
  --json           a JSON array of events (bigints as strings, bytes as { "$base64" })
  -h, --help       show this help

Exit codes: 0 ok, 1 the store cannot be opened or no event matched, 2 bad
command line.
`;

function eventBlock(e: StoredEvent, names: KindNameSource | undefined): string {
  const rows = [
    ["id", e.eventId],
    ["prevHash", e.prevHash || "-"],
    ["eventHash", e.eventHash],
  ];
  if (e.correlationId) rows.push(["correlationId", e.correlationId]);
  if (e.causationId) rows.push(["causationId", e.causationId]);
  rows.push(["payload", toJson(e.payload)]);
  return `seq ${e.sequence}  #${e.globalSequence}  ${new Date(e.timestampMs).toISOString()}  ${
    kindLabel(e.kind, names, e.schemaVersion)
  }  scope ${e.scope}\n` + renderTable(rows, "  ");
}

/** The reads `dump` needs; the embedded store and `PostgresStore` both have them. */
interface DumpSource {
  readStream(entity: string): Awaitable<StoredEvent[]>;
  read(region: Region, options: ReadOptions): Awaitable<StoredEvent[]>;
}

/** The selected events, entity by entity (names in code-unit order), each in sequence order. */
async function selectedEvents(store: DumpSource, select: Selection): Promise<StoredEvent[]> {
  if (select.kind === "entity") return await store.readStream(select.entity);
  const region = regionOf(select);
  const events: StoredEvent[] = [];
  for (let after = 0;;) {
    const page = await store.read(region, { after, limit: DUMP_PAGE_EVENTS });
    events.push(...page);
    if (page.length < DUMP_PAGE_EVENTS) break;
    after = page[page.length - 1].globalSequence;
  }
  // Stable: within an entity, global order is sequence order.
  return events.sort((a, b) => a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0);
}

/** Text output: a header per entity, then its events. */
function entitySections(events: StoredEvent[], names: KindNameSource | undefined): string {
  const sections: string[] = [];
  for (let i = 0; i < events.length;) {
    let j = i;
    while (j < events.length && events[j].entity === events[i].entity) j++;
    const group = events.slice(i, j);
    sections.push(
      `${events[i].entity}: ${group.length} event(s)\n\n` +
        group.map((e) => eventBlock(e, names)).join("\n"),
    );
    i = j;
  }
  return sections.join("\n");
}

/** The `dump` command. */
export const dump: Command = {
  name: "dump",
  summary: "every event of one entity (--entity, exact) or prefix (--prefix), in full",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals, help } = parseCommand(args, {
      ...SELECT_OPTIONS,
      json: { type: "boolean" },
    }, ["store"]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const select = selection(values, true);
    const opened = await openTarget(parseTarget(positionals[0]));
    try {
      const events = await selectedEvents(opened.store, select);
      if (events.length === 0) {
        throw new CliError(
          select.kind === "entity"
            ? `${describeSelection(select)} has no events`
            : `no events of ${describeSelection(select)}`,
        );
      }
      if (values.json) io.out(toJson(events, 2) + "\n");
      else io.out(entitySections(events, opened.kind === "dir" ? opened.store : undefined));
      return EXIT_OK;
    } finally {
      await closeOpened(opened);
    }
  },
};
