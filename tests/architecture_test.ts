/**
 * The module graph of `src/` against the target layering (`STYLE.md`,
 * "Target layering (wave 2)"): each layer imports only layers below it, no
 * import cycles, and a web-standard core.
 *
 * A module's layer is its first folder under `src/`; the package entry points
 * `mod.ts` and `testing.ts` are the layer `entry`. A module may import its own
 * layer and any layer of a LOWER rank. Layers of the same rank are siblings
 * and must not import each other.
 *
 * | rank | layers                              | what, and why there                                    |
 * | ---- | ----------------------------------- | ------------------------------------------------------ |
 * | 0    | core                                | errors, ids, kind, coordinate, region, types, limits    |
 * | 1    | fs · gate                           | the storage port; gates (core at most: a gate knows nothing of the store) |
 * | 2    | log                                 | frame codec, the frame reader, the log writer, recovery |
 * | 3    | index                               | columnar index, postings, sidecars                      |
 * | 4    | engine                              | apply, sync policy, notifier, open, the follower's tail |
 * | 5    | write · read · ownership · ops      | the four services over the engine, independent siblings |
 * | 6    | store                               | the facade                                              |
 * | 7    | pipeline · harness · browser · postgres | built on the store (postgres: a second backend, reusing core and codecs) |
 * | 8    | entry (`mod.ts`, `testing.ts`)      | re-exports only; nothing in the library imports them    |
 * | 9    | cli                                 | the `./cli` entry point, an application over `mod.ts`   |
 *
 * Every specifier in code counts — `import`, `import type`, `export … from`,
 * side-effect and dynamic `import("…")` — and none in comments or JSDoc
 * examples (see `fixtures/module_graph.ts`). `@seed/batpak[/…]` resolves
 * through `deno.json`'s exports; `npm:`, `jsr:`, bare package names and
 * `node:` are outside the graph (the web-standard test covers `node:`).
 *
 * The web-standard rule: outside `src/fs/deno.ts`, `src/cli/`,
 * `src/postgres/` (a Node-driver backend) and `src/harness/*_cli.ts`, no
 * module imports `node:*` or references the `Deno` global, so the same
 * engine runs in a browser worker.
 *
 * Each test lists every violation it finds (importing file, line, imported
 * module) and fails until all are fixed.
 */

import assert from "node:assert/strict";
import { globalReferences, type Specifier, specifiers } from "./fixtures/module_graph.ts";

/** Rank of each layer; see the table above. */
const RANKS: Readonly<Record<string, number>> = {
  core: 0,
  fs: 1,
  gate: 1,
  log: 2,
  index: 3,
  engine: 4,
  write: 5,
  read: 5,
  ownership: 5,
  ops: 5,
  store: 6,
  pipeline: 7,
  harness: 7,
  browser: 7,
  postgres: 7,
  entry: 8,
  cli: 9,
};

/** The package entry points outside `src/`, the layer `entry`. */
const ENTRY_POINTS = ["mod.ts", "testing.ts"];

/** Modules allowed to touch the runtime (`node:*`, `Deno`). */
function runtimeAllowed(path: string): boolean {
  return path === "src/fs/deno.ts" || path.startsWith("src/cli/") ||
    path.startsWith("src/postgres/") || /^src\/harness\/[^/]*_cli\.ts$/.test(path);
}

const ROOT = new URL("../", import.meta.url);
const SOURCE = /\.(ts|tsx|mts|js|mjs)$/;

/** Repository-relative paths of every module under `src/`, sorted. */
function sourceFiles(dir = "src"): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.isFile && SOURCE.test(entry.name)) out.push(path);
  }
  return out.sort();
}

const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));
const exists = (path: string) => {
  try {
    return Deno.statSync(new URL(path, ROOT)).isFile;
  } catch {
    return false;
  }
};

/** `a/b/../c/./d` → `a/c/d`; undefined when it climbs out of the repository. */
function normalize(path: string): string | undefined {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

/** The package's own name and exports, so `@seed/batpak/x` resolves like Deno resolves it. */
const denoJson = JSON.parse(read("deno.json")) as { name: string; exports: Record<string, string> };

type Resolved =
  | { kind: "module"; path: string }
  | { kind: "external" }
  | { kind: "unresolved"; why: string };

function resolve(from: string, spec: string): Resolved {
  if (spec.startsWith("./") || spec.startsWith("../")) {
    const dir = from.includes("/") ? from.slice(0, from.lastIndexOf("/")) : "";
    const path = normalize(`${dir}/${spec}`);
    if (path === undefined) return { kind: "unresolved", why: "climbs out of the repository" };
    if (!exists(path)) return { kind: "unresolved", why: "names no file" };
    return { kind: "module", path };
  }
  if (spec === denoJson.name || spec.startsWith(`${denoJson.name}/`)) {
    const sub = "." + spec.slice(denoJson.name.length);
    const target = denoJson.exports[sub];
    if (target === undefined) return { kind: "unresolved", why: "is no export of deno.json" };
    return { kind: "module", path: normalize(target)! };
  }
  if (spec === "<computed>") {
    return { kind: "unresolved", why: "is computed, so it cannot be checked" };
  }
  if (spec.startsWith("/") || spec.startsWith("file:")) {
    return { kind: "unresolved", why: "is an absolute path" };
  }
  return { kind: "external" };
}

/** The layer of a repository path, or undefined for a path in no layer. */
function layerOf(path: string): string | undefined {
  if (ENTRY_POINTS.includes(path)) return "entry";
  const match = /^src\/([^/]+)\//.exec(path);
  return match?.[1];
}

interface Edge {
  from: string;
  to: string;
  line: number;
  form: Specifier["form"];
}

/** Every module of the graph and its edges; problems met while resolving. */
function graph(): {
  modules: string[];
  edges: Edge[];
  problems: string[];
  specs: Map<string, Specifier[]>;
} {
  const modules = [...ENTRY_POINTS, ...sourceFiles()];
  const edges: Edge[] = [];
  const problems: string[] = [];
  const specs = new Map<string, Specifier[]>();
  for (const from of modules) {
    const found = specifiers(read(from));
    specs.set(from, found);
    for (const { specifier, line, form } of found) {
      const r = resolve(from, specifier);
      if (r.kind === "external") continue;
      if (r.kind === "unresolved") {
        problems.push(`${from}:${line} ${form} "${specifier}" ${r.why}`);
        continue;
      }
      edges.push({ from, to: r.path, line, form });
    }
  }
  return { modules, edges, problems, specs };
}

const GRAPH = graph();

const describeEdge = (e: Edge) =>
  `${e.from}:${e.line} ${e.form === "import" ? "imports" : e.form} ${e.to}`;

Deno.test("architecture: the scanner finds only code specifiers, in every form", () => {
  const source = [
    "#!/usr/bin/env -S deno run",
    "/** @example",
    ' * import { Store } from "@seed/batpak";',
    " */",
    '// import { gone } from "./commented.ts";',
    'import a, { b as c, type D } from "./a.ts";',
    'import type { E } from "./e.ts";',
    'import * as ns from "./ns.ts";',
    'import "./side.ts";',
    'export { f } from "./f.ts";',
    'export * from "./star.ts";',
    'export * as g from "./g.ts";',
    'export type { H } from "./h.ts";',
    "export { a, c };",
    'export type Local = typeof import("./type_level.ts");',
    "const text = \"import { x } from './in_string.ts'\";",
    'const tpl = `import ${await import("./in_template.ts")} from "./tpl_text.ts"`;',
    'const re = /import "\\.\\/in_regex.ts"/g, half = 4 / 2 / 1;',
    'const quote = text.replace(/"/g, "\'");',
    "const meta = import.meta.url; const o = { import: 1, export: 2 };",
    "const lazy = () => import(`./computed_${half}.ts`);",
  ].join("\n");
  assert.deepEqual(
    specifiers(source).map((s) => `${s.line} ${s.form} ${s.specifier}`),
    [
      "6 import ./a.ts",
      "7 import type ./e.ts",
      "8 import ./ns.ts",
      "9 import ./side.ts",
      "10 export from ./f.ts",
      "11 export from ./star.ts",
      "12 export from ./g.ts",
      "13 export type from ./h.ts",
      "15 dynamic import ./type_level.ts",
      "17 dynamic import ./in_template.ts",
      "21 dynamic import <computed>",
    ],
  );
  assert.deepEqual(
    globalReferences(
      [
        "/** Deno.exit(1) in a comment */",
        'const s = "Deno.env";',
        "const a = Deno.args;",
        "const b = globalThis.Deno;",
        'const c = globalThis["Deno"];',
        "const d = other.Deno;",
        "type F = Deno.FsFile;",
      ].join("\n"),
      "Deno",
    ),
    [3, 4, 5, 7],
  );
});

Deno.test("architecture: the graph is read (entry points reach the store, the store the engine)", () => {
  const has = (from: string, to: string) => GRAPH.edges.some((e) => e.from === from && e.to === to);
  assert.ok(GRAPH.modules.length > 50, `only ${GRAPH.modules.length} modules found`);
  assert.ok(has("mod.ts", "src/store/store.ts"));
  assert.ok(has("src/store/store.ts", "src/engine/engine.ts"));
  assert.ok(has("testing.ts", "src/fs/memory.ts"));
});

Deno.test("architecture: every module is in a layer of the rank table, every specifier resolves", () => {
  const unranked = GRAPH.modules
    .filter((m) => {
      const layer = layerOf(m);
      return layer === undefined || RANKS[layer] === undefined;
    })
    .map((m) => `${m} is in no layer of the rank table (layer "${layerOf(m) ?? "none"}")`);
  const outside = GRAPH.edges
    .filter((e) => layerOf(e.to) === undefined)
    .map((e) =>
      `${describeEdge(e)}: outside the package source (src/, ${ENTRY_POINTS.join(", ")})`
    );
  assert.deepEqual([...unranked, ...GRAPH.problems, ...outside], []);
});

Deno.test("architecture: no module imports a layer above its own, or a sibling layer", () => {
  const violations: string[] = [];
  for (const e of GRAPH.edges) {
    const from = layerOf(e.from), to = layerOf(e.to);
    if (from === undefined || to === undefined || from === to) continue;
    const rankFrom = RANKS[from], rankTo = RANKS[to];
    if (rankFrom === undefined || rankTo === undefined) continue; // reported above
    if (rankTo > rankFrom) {
      violations.push(
        `${
          describeEdge(e)
        }: ${from} (rank ${rankFrom}) imports ${to} (rank ${rankTo}), a layer above it`,
      );
    } else if (rankTo === rankFrom) {
      violations.push(
        `${describeEdge(e)}: ${from} and ${to} are sibling layers (rank ${rankFrom})`,
      );
    }
  }
  assert.deepEqual(violations, []);
});

/** Strongly connected components of the graph (Tarjan), each a set of modules. */
function components(modules: string[], next: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc.sort());
    }
  };
  for (const m of modules) if (!index.has(m)) visit(m);
  return out;
}

/** A shortest cycle from `start` back to itself inside `members`, as edges. */
function cycleThrough(start: string, members: Set<string>, edges: Edge[]): Edge[] {
  const from = new Map<string, Edge>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const e of edges) {
      if (e.from !== v || !members.has(e.to)) continue;
      if (e.to === start) {
        const path = [e];
        for (let at = v; at !== start; at = from.get(at)!.from) path.unshift(from.get(at)!);
        return path;
      }
      if (!from.has(e.to)) {
        from.set(e.to, e);
        queue.push(e.to);
      }
    }
  }
  return [];
}

Deno.test("architecture: no import cycle between modules", () => {
  const next = new Map<string, string[]>();
  for (const e of GRAPH.edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const cycles: string[] = [];
  for (const scc of components(GRAPH.modules, next)) {
    const selfImport = scc.length === 1 && (next.get(scc[0]) ?? []).includes(scc[0]);
    if (scc.length === 1 && !selfImport) continue;
    const cycle = cycleThrough(scc[0], new Set(scc), GRAPH.edges);
    const text = cycle.map((e) =>
      `${e.from}:${e.line} ${e.form === "import" ? "→" : `→ (${e.form})`}`
    )
      .join(" ") + ` ${scc[0]}`;
    cycles.push(
      scc.length > cycle.length
        ? `${text}  [the cycle is part of a knot of ${scc.length}: ${scc.join(", ")}]`
        : text,
    );
  }
  assert.deepEqual(cycles, []);
});

Deno.test("architecture: the core is web-standard (node:* and Deno only in fs/deno.ts, cli/, postgres/, harness/*_cli.ts)", () => {
  const violations: string[] = [];
  for (const path of GRAPH.modules) {
    if (!path.startsWith("src/") || runtimeAllowed(path)) continue;
    for (const s of GRAPH.specs.get(path) ?? []) {
      if (s.specifier.startsWith("node:")) {
        violations.push(`${path}:${s.line} ${s.form} "${s.specifier}"`);
      }
    }
    for (const line of globalReferences(read(path), "Deno")) {
      violations.push(`${path}:${line} references the Deno global`);
    }
  }
  assert.deepEqual(violations, []);
});
