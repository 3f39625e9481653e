// The README's "In the browser" examples, as a reader would copy them, in Chromium: the page
// example (BrowserStore) prints what its comment says, and the worker example (Store on
// OpfsFileSystem) appends to the same store. `deno test --doc README.md` only type-checks them
// in Deno, where they do nothing.
import assert from "node:assert/strict";
import { build } from "./build.ts";
import { chromiumOrSkip, startBrowser } from "./_harness.ts";

const chromium = chromiumOrSkip("tests/browser/readme_test.ts");
const root = new URL("../../", import.meta.url).pathname;

/** The `ts` code blocks of the README's "In the browser" section, importing the bundle. */
export function browserExamples(readme: string): string[] {
  const start = readme.indexOf("\n## In the browser\n");
  assert.ok(start >= 0, 'README.md has no "## In the browser" section');
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.map((code) => {
    assert.match(code, /from "\.\/browser\.ts"/, "each example imports ./browser.ts");
    return code.replace(/from "\.\/browser\.ts"/g, 'from "/dist/batpak.browser.js"');
  });
}

Deno.test("the README's browser examples are found and point at the bundle", () => {
  const examples = browserExamples(Deno.readTextFileSync(`${root}README.md`));
  assert.equal(examples.length, 2);
  for (const code of examples) assert.match(code, /"\/dist\/batpak\.browser\.js"/);
});

if (chromium !== undefined) {
  Deno.test({
    name: "the README's browser examples run in Chromium",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const [onPage, inWorker] = browserExamples(Deno.readTextFileSync(`${root}README.md`));
      const dir = Deno.makeTempDirSync({ prefix: "batpak_readme_" });
      const built = await build(`${dir}/batpak.browser.js`);
      assert.ok(built.ok, built.report);
      const js = "text/javascript; charset=utf-8";
      const session = await startBrowser({
        chromium,
        routes: {
          "/dist/batpak.browser.js": { body: Deno.readFileSync(built.file!), type: js },
          "/app.js": { body: onPage, type: js },
          // The worker example, then a word to the page that it has finished.
          "/worker.js": { body: `${inWorker}\npostMessage("done");\n`, type: js },
        },
      });
      try {
        const tab = await session.page();
        const logged: string[] = [];
        tab.page.on("console", (m) => logged.push(m.text()));
        await tab.page.evaluate(() => import("/app.js"));
        assert.deepEqual(logged, ["1 1 true"], "what the page example's comment says it prints");
        const done = await tab.page.evaluate(() =>
          new Promise<string>((resolve, reject) => {
            const worker = new Worker("/worker.js", { type: "module" });
            worker.onmessage = (e) => resolve(String(e.data));
            worker.onerror = (e) => reject(new Error(e.message));
          })
        );
        assert.equal(done, "done");
        // The worker example appended to the same store: the page sees both notes.
        const count = await tab.page.evaluate(async () => {
          const { BrowserStore } = await import("/dist/batpak.browser.js");
          const store = await BrowserStore.open({ name: "notes", lockWaitMs: 5_000 });
          const n = (await store.readStream("note:1")).length;
          await store.close();
          return n;
        });
        assert.equal(count, 2);
        await tab.assertClean();
      } finally {
        await session.close();
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}
