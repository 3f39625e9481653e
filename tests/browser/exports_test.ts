// browser.ts is the one module of the browser build: what mod.ts exports, less DenoFileSystem,
// plus OpfsFileSystem and the worker client. Compared by `deno doc --json`, so types count too;
// the failure names each symbol that drifted and the command that brings browser.ts in step.
import assert from "node:assert/strict";
import { BLOCK_END, BLOCK_START, portableExports, syncExports } from "./build.ts";

const ROOT = new URL("../../", import.meta.url);
const SYNC = "deno run -A tests/browser/build.ts --sync-exports";

/** The names a module exports (values and types), by `deno doc --json`. */
async function exportedNames(path: string): Promise<Set<string>> {
  const url = new URL(path, ROOT);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", url.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: { name: string }[] }>;
  };
  return new Set(doc.nodes[url.href].symbols.map((s) => s.name));
}

/** What browser.ts adds to mod.ts by design. */
const BROWSER_ONLY = [
  "OPFS_NAME_DEFAULT",
  "OPFS_SPARES_DEFAULT",
  "OpfsFileSystem",
  "OpfsOpenOptions",
  "OpfsPoolStats",
  "OpfsReadAheadStats",
];

Deno.test("browser.ts exports what mod.ts exports, less DenoFileSystem, plus the browser's own", async () => {
  const [mod, browser, client] = await Promise.all([
    exportedNames("mod.ts"),
    exportedNames("browser.ts"),
    exportedNames("src/browser/mod.ts"),
  ]);
  const expected = new Set([...mod, ...BROWSER_ONLY, ...client]);
  expected.delete("DenoFileSystem");
  const missing = [...expected].filter((n) => !browser.has(n)).sort();
  const extra = [...browser].filter((n) => !expected.has(n)).sort();
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `browser.ts has drifted from mod.ts: run \`${SYNC}\``,
  );
});

Deno.test("the values browser.ts exports at run time are mod.ts's, less DenoFileSystem", async () => {
  const mod = await import("../../mod.ts");
  const browser = await import("../../browser.ts");
  for (const name of Object.keys(mod)) {
    if (name === "DenoFileSystem") continue;
    assert.equal(
      (browser as Record<string, unknown>)[name],
      (mod as Record<string, unknown>)[name],
      `${name}: the same binding`,
    );
  }
  assert.ok(!("DenoFileSystem" in browser));
});

Deno.test("--sync-exports rebuilds the generated block from mod.ts and keeps the rest", () => {
  const mod = [
    "/** doc */",
    'export { A, type B } from "./src/a.ts";',
    "// Storage",
    'export { DenoFileSystem } from "./src/fs/deno.ts";',
    'export * from "./src/gate/mod.ts";',
  ].join("\n");
  const browser = `head\n${BLOCK_START}\nexport { Old } from "./old.ts";\n${BLOCK_END}\ntail\n`;
  assert.deepEqual(portableExports(mod), [
    'export { A, type B } from "./src/a.ts";',
    'export * from "./src/gate/mod.ts";',
  ]);
  assert.equal(
    syncExports(browser, mod),
    `head\n${BLOCK_START}\nexport { A, type B } from "./src/a.ts";\n` +
      `export * from "./src/gate/mod.ts";\n${BLOCK_END}\ntail\n`,
  );
  assert.throws(() => syncExports("no block", mod), /no generated block/);
});
