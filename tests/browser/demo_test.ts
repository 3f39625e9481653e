// The demo page (deno task demo:browser) in Chromium: add tasks, tick one, remove one, verify,
// reload (everything is still there), and a screenshot in bench/results/demo_browser.png.
import assert from "node:assert/strict";
import { build } from "./build.ts";
import { chromiumOrSkip, startBrowser } from "./_harness.ts";

const chromium = chromiumOrSkip("tests/browser/demo_test.ts");
const root = new URL("../../", import.meta.url).pathname;

if (chromium !== undefined) {
  Deno.test({
    name: "demo page: a local-first task list on OPFS",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const dir = Deno.makeTempDirSync({ prefix: "batpak_demo_" });
      const built = await build(`${dir}/batpak.browser.js`);
      assert.ok(built.ok, built.report);
      const js = "text/javascript; charset=utf-8";
      const session = await startBrowser({
        chromium,
        routes: {
          "/demo/": {
            body: Deno.readFileSync(`${root}demo/browser/index.html`),
            type: "text/html",
          },
          "/demo/app.js": { body: Deno.readFileSync(`${root}demo/browser/app.js`), type: js },
          "/dist/batpak.browser.js": {
            body: Deno.readFileSync(`${dir}/batpak.browser.js`),
            type: js,
          },
        },
      });
      try {
        const tab = await session.page("/demo/");
        const page = tab.page;
        const until = (predicate: string) => page.waitForFunction(predicate, { timeout: 20_000 });
        // The page re-renders its list on every event it is shown (the live subscription): an
        // element found just before a render is detached by it, so a click is tried again.
        const click = async (selector: string) => {
          for (let attempt = 1;; attempt++) {
            try {
              return await page.click(selector);
            } catch (e) {
              if (attempt === 5 || !/detached/i.test(String(e))) throw e;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        };
        await page.setViewport({ width: 900, height: 700 });
        await page.waitForSelector("body[data-ready=true]");
        for (const title of ["buy milk", "write the report", "call the plumber"]) {
          await page.type("#title", title);
          await click("#add button");
          await until(`document.body.innerText.includes(${JSON.stringify(title)})`);
        }
        await click("#tasks li:nth-child(2) input[type=checkbox]");
        await until(`document.querySelector("#summary")?.textContent === "1 of 3 done"`);
        await click("#tasks li:nth-child(3) button");
        await until(`document.querySelectorAll("#tasks li").length === 2`);
        await click("#verify");
        await until(`document.querySelector("#verdict")?.className === "ok"`);
        const verdict = await page.$eval("#verdict", (e) => e.textContent ?? "");
        assert.match(verdict, /^ok: 5 events checked/);
        await page.reload();
        await page.waitForSelector("body[data-ready=true]");
        await until(`document.querySelectorAll("#history li").length === 5`);
        assert.equal(await page.$eval("#summary", (e) => e.textContent), "1 of 2 done");
        await page.type("#title", "water the plants");
        await click("#add button");
        await until(`document.querySelectorAll("#history li").length === 6`);
        await click("#verify");
        await until(`/^ok: 6 events/.test(document.querySelector("#verdict")?.textContent ?? "")`);
        Deno.mkdirSync(`${root}bench/results`, { recursive: true });
        await page.screenshot({ path: `${root}bench/results/demo_browser.png` });
        await tab.assertClean();
      } finally {
        await session.close();
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}
