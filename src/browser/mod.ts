/**
 * The store in the browser: {@linkcode BrowserStore}, the client any thread
 * uses, and {@linkcode serveStore}, its worker side (a `Store` on the Origin
 * Private File System in a dedicated worker).
 *
 * @module
 */

export { BrowserStore, type BrowserStoreConfig, type BrowserStoreOptions } from "./client.ts";
export { isStoreWorker, type OpenRequest, serveStore, type WorkerPort } from "./worker.ts";
