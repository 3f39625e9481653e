/**
 * The README's API table against the code: every public method of `Store`
 * that `deno doc --json mod.ts` lists has a row, with the same parameters
 * (names as the code names them, `?` exactly on the optional ones, or a
 * `{ … }` literal spelling out an options object), and every call the
 * table shows is a real method. The list comes from `deno doc`, not from
 * here: a method added to `Store` fails this test until the README
 * documents it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../fixtures/cli.ts";

/** A parameter as `deno doc --json` describes it (the parts read here). */
interface DocParam {
  kind: "identifier" | "assign" | "rest" | "object" | "array";
  name?: string;
  optional?: boolean;
  left?: DocParam;
  arg?: DocParam;
}

/** A class method as `deno doc --json` describes it (the parts read here). */
interface DocMethod {
  name: string;
  kind: "method" | "getter" | "setter";
  isStatic?: boolean;
  accessibility?: "public" | "protected" | "private";
  functionDef: { params: DocParam[] };
}

/** One parameter: its name (undefined for a destructuring pattern) and whether it may be left out. */
interface Param {
  name: string | undefined;
  optional: boolean;
}

function paramOf(p: DocParam): Param {
  switch (p.kind) {
    case "identifier":
      return { name: p.name, optional: p.optional === true };
    case "assign":
      return { name: paramOf(p.left!).name, optional: true };
    case "rest":
      return { name: `...${paramOf(p.arg!).name}`, optional: true };
    default:
      return { name: undefined, optional: p.optional === true };
  }
}

/** `Store`'s public methods from `deno doc --json mod.ts`: name → the parameter lists of its signatures. */
async function storeMethods(): Promise<Map<string, Param[][]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const module = Object.values(doc.nodes as Record<string, { symbols: unknown[] }>)[0];
  const store =
    (module.symbols as { name: string; declarations: { kind: string; def: unknown }[] }[])
      .find((s) => s.name === "Store")?.declarations.find((d) => d.kind === "class");
  assert.ok(store, "deno doc lists the Store class");
  const methods = new Map<string, Param[][]>();
  for (const m of (store.def as { methods: DocMethod[] }).methods) {
    if (m.kind !== "method" || m.accessibility === "private" || m.accessibility === "protected") {
      continue;
    }
    const name = m.isStatic ? `Store.${m.name}` : m.name;
    methods.set(name, [...(methods.get(name) ?? []), m.functionDef.params.map(paramOf)]);
  }
  return methods;
}

/** The call column of the README table under `**Store**`, with `\|` unescaped. */
function storeTableCalls(readme: string): string[] {
  const lines = readme.split("\n");
  const start = lines.indexOf("**Store**");
  assert.ok(start >= 0, "the README has a **Store** table");
  const rows: string[] = [];
  let i = start + 1;
  while (i < lines.length && !lines[i].startsWith("|")) i++;
  for (i += 2; i < lines.length && lines[i].startsWith("|"); i++) {
    const firstCell = lines[i].slice(1).split(/(?<!\\)\|/)[0];
    rows.push(firstCell.replaceAll("\\|", "|").trim());
  }
  return rows;
}

/** A call written in the table: `name(a, { b, c }?, d?)`. */
interface WrittenCall {
  name: string;
  args: string[];
  row: string;
}

/** Every `name(…)` inside the code spans of `cells`; arguments split at top-level commas. */
function writtenCalls(cells: string[]): WrittenCall[] {
  const calls: WrittenCall[] = [];
  for (const row of cells) {
    for (const [, code] of row.matchAll(/`([^`]+)`/g)) {
      const start = /^((?:Store\.)?(?:\[Symbol\.\w+\]|[A-Za-z_$][\w$]*))\(/.exec(code);
      if (!start) continue;
      let depth = 0;
      let arg = "";
      const args: string[] = [];
      for (const ch of code.slice(start[0].length)) {
        if (depth === 0 && ch === ")") break;
        if ("({[".includes(ch)) depth++;
        if (")}]".includes(ch)) depth--;
        if (depth === 0 && ch === ",") {
          args.push(arg.trim());
          arg = "";
        } else arg += ch;
      }
      if (arg.trim() !== "") args.push(arg.trim());
      calls.push({ name: start[1], args, row });
    }
  }
  return calls;
}

/** Why `args` does not match `params`, or undefined when it does. */
function mismatch(args: string[], params: Param[]): string | undefined {
  const shown = `(${params.map((p) => `${p.name ?? "{…}"}${p.optional ? "?" : ""}`).join(", ")})`;
  if (args.length !== params.length) {
    return `${args.length} parameter(s), the code ${params.length} ${shown}`;
  }
  for (const [i, p] of params.entries()) {
    const a = args[i];
    const optional = a.endsWith("?");
    const bare = optional ? a.slice(0, -1).trim() : a;
    if (optional !== p.optional) {
      return `'${a}', which ${
        p.optional ? "is optional: mark it '?'" : "is required: drop the '?'"
      } ${shown}`;
    }
    const literal = bare.startsWith("{") && bare.endsWith("}");
    if (!literal && bare !== p.name) {
      return `'${bare}', named '${p.name ?? "{…}"}' in the code ${shown}`;
    }
  }
  return undefined;
}

Deno.test("README: every public method of Store is in the API table, with deno doc's parameters", async () => {
  const methods = await storeMethods();
  assert.ok(methods.has("append") && methods.has("Store.open"), "deno doc was read");
  const calls = writtenCalls(storeTableCalls(Deno.readTextFileSync(join(ROOT, "README.md"))));
  const problems: string[] = [];
  for (const [name, signatures] of methods) {
    const written = calls.filter((c) => c.name === name);
    if (written.length === 0) {
      problems.push(`${name}: missing from the README's Store table`);
      continue;
    }
    // Written more than once (Store.open, with a directory and read-only): each must match.
    for (const c of written) {
      if (signatures.some((params) => mismatch(c.args, params) === undefined)) continue;
      problems.push(
        `${name}: \`${c.name}(${c.args.join(", ")})\` has ${mismatch(c.args, signatures[0])}`,
      );
    }
  }
  for (const c of calls) {
    if (!methods.has(c.name)) problems.push(`\`${c.name}(…)\` in the README is no Store method`);
  }
  assert.deepEqual(problems, []);
});

Deno.test("README table check: it catches a missing method, a missing '?', a renamed parameter", () => {
  const calls = writtenCalls([
    "`project(entity, { initial, apply }, freshness?)`, `get(key)`",
    "`readStream(entity, options)`",
  ]);
  assert.deepEqual(calls.map((c) => [c.name, c.args]), [
    ["project", ["entity", "{ initial, apply }", "freshness?"]],
    ["get", ["key"]],
    ["readStream", ["entity", "options"]],
  ]);
  const project = [
    { name: "entity", optional: false },
    { name: "projection", optional: false },
    { name: "freshness", optional: true },
  ];
  assert.equal(mismatch(calls[0].args, project), undefined);
  assert.match(mismatch(["entity", "{ initial, apply }"], project)!, /2 parameter\(s\)/);
  assert.match(mismatch(calls[1].args, [{ name: "id", optional: false }])!, /named 'id'/);
  assert.match(
    mismatch(calls[2].args, [{ name: "entity", optional: false }, {
      name: "options",
      optional: true,
    }])!,
    /is optional: mark it '\?'/,
  );
});
