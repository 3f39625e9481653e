/**
 * Which events a command reads, from its `--entity` and `--prefix` flags,
 * the same way in every command: `--entity E` is exactly the entity `E`
 * (`Region.stream`), `--prefix P` every entity whose name starts with `P`
 * (`Region.entity`: `account:1` also matches `account:10`). Giving both, or
 * an empty value, is a usage error.
 *
 * @module
 */

import { Region } from "../../mod.ts";
import { UsageError } from "./_args.ts";

/** The two flags, as `parseCommand` options. */
export const SELECT_OPTIONS = {
  entity: { type: "string" },
  prefix: { type: "string" },
} as const;

/** The flags' lines of a command's `--help`. */
export const SELECT_HELP = `  --entity ENTITY  exactly this entity
  --prefix PREFIX  every entity whose name starts with PREFIX
                   (account:1 also matches account:10)`;

/** What the flags selected. */
export type Selection =
  | { readonly kind: "all" }
  | { readonly kind: "entity"; readonly entity: string }
  | { readonly kind: "prefix"; readonly prefix: string };

/**
 * Read `--entity` / `--prefix`. Both at once, or an empty value, is a
 * {@linkcode UsageError}; so is neither when `required`.
 */
export function selection(
  values: { entity?: string | boolean; prefix?: string | boolean },
  required = false,
): Selection {
  const { entity, prefix } = values;
  if (entity !== undefined && prefix !== undefined) {
    throw new UsageError(
      "options '--entity' (exactly one entity) and '--prefix' (entities starting with it) " +
        "cannot be combined",
    );
  }
  if (entity === "") throw new UsageError("option '--entity' needs an entity name");
  if (prefix === "") {
    throw new UsageError("option '--prefix' needs a non-empty prefix (omit it for every entity)");
  }
  if (typeof entity === "string") return { kind: "entity", entity };
  if (typeof prefix === "string") return { kind: "prefix", prefix };
  if (required) throw new UsageError("missing option '--entity <entity>' or '--prefix <prefix>'");
  return { kind: "all" };
}

/** The region a selection reads. */
export function regionOf(s: Selection): Region {
  switch (s.kind) {
    case "all":
      return Region.all();
    case "entity":
      return Region.stream(s.entity);
    case "prefix":
      return Region.entity(s.prefix);
  }
}

/** How output names a selection: `entity "E"`, `entities starting with "P"`, `the store`. */
export function describeSelection(s: Selection): string {
  switch (s.kind) {
    case "all":
      return "the store";
    case "entity":
      return `entity ${JSON.stringify(s.entity)}`;
    case "prefix":
      return `entities starting with ${JSON.stringify(s.prefix)}`;
  }
}
