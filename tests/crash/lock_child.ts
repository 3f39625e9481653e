/**
 * R7 helper: open the store in `Deno.args[0]` from another process and print
 * the outcome as one JSON line. With `hold`, keep it open until stdin closes.
 *
 * @module
 */

import { Store } from "../../mod.ts";

const [dataDir, mode] = Deno.args;
try {
  const store = Store.open(dataDir);
  console.log(JSON.stringify({ opened: true }));
  if (mode === "hold") {
    for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  }
  store.close();
} catch (e) {
  console.log(
    JSON.stringify({ opened: false, name: (e as Error).name, code: (e as { code?: string }).code }),
  );
}
