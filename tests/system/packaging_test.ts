/**
 * Using the package from another project, without our `deno.json`: a
 * project that imports `mod.ts` by path (or by a git or https URL) gets
 * none of our import map, so every dependency in the package's code must be
 * named in full (`npm:name@range`), with the range `deno.json` maps the
 * bare name to (the tests use it), so `deno.lock` pins one version for both.
 *
 * The relative-path half of the issue (`deno task cli inspect ./data` from
 * another folder resolves `./data` there, through `INIT_CWD`) is tested in
 * `tests/cli/cli_test.ts`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cliIn, ROOT, runCommand } from "../fixtures/cli.ts";
import { specifiers } from "../fixtures/module_graph.ts";

const denoJson = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))) as {
  imports: Record<string, string>;
  exports: Record<string, string>;
};

/** Repository-relative paths of the package's modules: the entry points and all of `src/`. */
function packageModules(dir = "src"): string[] {
  const out = dir === "src" ? ["mod.ts", "testing.ts"] : [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...packageModules(path));
    else if (/\.(ts|js|mjs)$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

Deno.test("packaging: the package's code names every dependency in full, at deno.json's version", () => {
  const problems: string[] = [];
  const mapped = new Set(Object.values(denoJson.imports));
  for (const path of packageModules()) {
    for (const { specifier, line } of specifiers(Deno.readTextFileSync(join(ROOT, path)))) {
      if (/^\.\.?\//.test(specifier) || specifier.startsWith("node:")) continue;
      if (specifier.startsWith("npm:")) {
        if (!mapped.has(specifier)) {
          problems.push(
            `${path}:${line} "${specifier}" is not the range deno.json's imports map to ` +
              "(two ranges can lock two versions)",
          );
        }
        continue;
      }
      problems.push(
        `${path}:${line} "${specifier}" needs our import map: a project importing this ` +
          "package by path or URL fails with 'not a dependency' (write npm:name@range)",
      );
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("packaging: a project outside the repository imports every entry point by path, with an empty deno.json", async () => {
  const project = await Deno.makeTempDir({ prefix: "batpak-user-project-" });
  try {
    assert.ok(!project.startsWith(ROOT), "the project is outside the repository");
    await Deno.writeTextFile(join(project, "deno.json"), "{}\n");
    const url = (path: string) => pathToFileURL(join(ROOT, path)).href;
    await Deno.writeTextFile(
      join(project, "app.ts"),
      `import { Coordinate, EventKind, Region, Store } from "${url(denoJson.exports["."])}";
import { MemoryFileSystem } from "${url(denoJson.exports["./testing"])}";
import { PostgresStore } from "${url(denoJson.exports["./postgres"])}";
import { main } from "${url(denoJson.exports["./cli"])}";

const store = Store.open("data");
store.append(new Coordinate("account:1", "bank"), EventKind.custom(1, 1), { amount: 5 });
store.append(new Coordinate("account:1", "bank"), EventKind.custom(1, 1), { amount: 7 });
const total = store.project("account:1", {
  initial: () => 0,
  apply: (sum: number, e) => sum + (e.payload as { amount: number }).amount,
});
console.log("total", total, store.query(Region.all()).length);
store.close();
const memory = Store.open({ dataDir: "/m", fs: new MemoryFileSystem() });
console.log("memory", memory.lastSequence("nobody"));
memory.close();
console.log("postgres", typeof PostgresStore.connect);
let out = "";
const code = await main(["inspect", "data"], {
  out: (t) => (out += t),
  err: (t) => (out += t),
  errIsTerminal: false,
});
console.log("cli", code, /^events\\s+2$/m.test(out));
`,
    );
    const run = await runCommand([Deno.execPath(), "run", "-A", "app.ts"], { cwd: project });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /not a dependency/);
    assert.deepEqual(run.stdout.trimEnd().split("\n"), [
      "total 12 2",
      "memory 0",
      "postgres function",
      "cli 0 true",
    ]);
    // The CLI by path from that folder: ./data is the project's.
    const verify = await cliIn({ cwd: project }, "verify", "./data");
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^ok: 2 events checked/m);
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});
