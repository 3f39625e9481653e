// `deno task build:browser`: the bundle is one web-clean ES module exporting what mod.ts
// exports (less DenoFileSystem) plus the browser additions. No browser needed.
import assert from "node:assert/strict";
import { build } from "./build.ts";
import { bundleProblems, codeOnly, denoLines } from "./_web_clean.ts";

Deno.test("the browser bundle is web-clean and exports mod.ts plus OpfsFileSystem", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "batpak_bundle_" });
  try {
    const out = `${dir}/batpak.browser.js`;
    const result = await build(out);
    assert.ok(result.ok, result.report); // names every module that still imports node:* or Deno
    assert.deepEqual(bundleProblems(Deno.readTextFileSync(out)), []);
    const bundle = await import(out);
    const mod = await import("../../mod.ts");
    const expected = Object.keys(mod).filter((name) => name !== "DenoFileSystem");
    const missing = expected.filter((name) => !(name in bundle));
    assert.deepEqual(missing, [], "exports of mod.ts missing from the bundle");
    for (const name of ["OpfsFileSystem", "BrowserStore", "serveStore"]) {
      assert.ok(name in bundle, `the bundle exports ${name}`);
    }
    assert.ok(!("DenoFileSystem" in bundle), "DenoFileSystem needs Deno: not in the browser build");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the web-clean scan sees code, not comments or strings", () => {
  const source = [
    "// Deno.exit() in a comment",
    '/* import x from "node:fs"; Deno.cwd() */',
    'const s = "Deno.env"; const t = `${Deno.pid}`;',
    "const r = /Deno./g;",
    "Deno.exit(1);",
  ].join("\n");
  assert.deepEqual(denoLines(source), [3, 5]);
  assert.equal(codeOnly("a = 'x' // c").trimEnd(), "a =");
  assert.deepEqual(bundleProblems('import * as fs from "node:fs";\n/* from "node:path" */'), [
    "imports node:fs",
  ]);
});
