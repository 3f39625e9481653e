/**
 * The runtime's default file system, registered by the runtime's storage
 * module when it is loaded (`src/fs/deno.ts` registers `DenoFileSystem`;
 * `mod.ts` loads it). The core never imports a runtime: where none is
 * registered — a browser bundle — `Store.open` needs `config.fs`.
 *
 * @module
 */

import type { FileSystem } from "./types.ts";

let provider: (() => FileSystem) | undefined;

/** Register the default file system of this runtime. */
export function setDefaultFileSystem(make: () => FileSystem): void {
  provider = make;
}

/** A new default file system, or `undefined` when this runtime registered none. */
export function defaultFileSystem(): FileSystem | undefined {
  return provider?.();
}
