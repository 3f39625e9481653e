/**
 * `deno task demo:browser`: builds dist/batpak.browser.js and serves the demo
 * (a local-first task list on OPFS) at http://127.0.0.1:8000 (`PORT` to change).
 *
 * @module
 */

import { build } from "../../tests/browser/build.ts";
import { contentType } from "../../tests/browser/_harness.ts";

const result = await build();
console.log(result.report);
if (!result.ok) Deno.exit(1);
const root = new URL("../../", import.meta.url).pathname;
const files: Record<string, string> = {
  "/": `${root}demo/browser/index.html`,
  "/app.js": `${root}demo/browser/app.js`,
  "/dist/batpak.browser.js": `${root}dist/batpak.browser.js`,
};
const port = Number(Deno.env.get("PORT") ?? 8000);
Deno.serve({ hostname: "127.0.0.1", port }, (req) => {
  const file = files[new URL(req.url).pathname];
  if (file === undefined) return new Response("not found", { status: 404 });
  return new Response(Deno.readFileSync(file), {
    headers: { "content-type": contentType(file), "cache-control": "no-store" },
  });
});
