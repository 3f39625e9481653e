/**
 * What the browser build adds to `mod.ts`: the storage port on the Origin
 * Private File System and the worker client. `deno task build:browser`
 * bundles this with everything `mod.ts` exports (less `DenoFileSystem`)
 * into `dist/batpak.browser.js`, which also starts serving a store by
 * itself when it is loaded as the worker `BrowserStore.open` starts.
 *
 * @example On a page, with no worker script of your own
 * ```ts ignore
 * import { BrowserStore, Coordinate, EventKind } from "./dist/batpak.browser.js";
 * const store = await BrowserStore.open({ name: "notes" });
 * await store.append(new Coordinate("note:1", "notes"), EventKind.custom(1, 1), { text: "hi" });
 * ```
 *
 * @module
 */

import { isStoreWorker, serveStore } from "./src/browser/worker.ts";

export {
  OPFS_NAME_DEFAULT,
  OPFS_SPARES_DEFAULT,
  OpfsFileSystem,
  type OpfsOpenOptions,
  type OpfsPoolStats,
} from "./src/fs/opfs.ts";
export * from "./src/browser/mod.ts";

// Loaded as the worker BrowserStore.open starts (this very file): serve the store.
if (isStoreWorker()) serveStore();
