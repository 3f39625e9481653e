/**
 * Opening a store that must already exist. `Store.open` creates a missing
 * directory (and a first segment), which is right for an application and
 * wrong for `inspect`, `verify`, `tail` and `dump`: a typo must not leave
 * an empty store behind.
 *
 * @module
 */

import { join } from "node:path";
import { Store, type StoreReader } from "../../mod.ts";
import { CliError } from "./_args.ts";

/** Segment file names, as documented in the public contract (`NNNNNN.fbat`). */
export const SEGMENT_FILE_PATTERN: RegExp = /^\d{6,10}\.fbat$/;

/** One file of a store directory. */
export interface StoreFile {
  /** File name within the directory. */
  name: string;
  /** Size in bytes. */
  bytes: number;
}

/** The segment files of `dir`, in order, with sizes. */
export function listSegments(dir: string): StoreFile[] {
  const files: StoreFile[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && SEGMENT_FILE_PATTERN.test(entry.name)) {
      files.push({ name: entry.name, bytes: Deno.statSync(join(dir, entry.name)).size });
    }
  }
  return files.sort((a, b) => Number.parseInt(a.name) - Number.parseInt(b.name));
}

/**
 * Check that `dir` is an existing store directory (a directory holding at
 * least one segment file), without creating anything.
 */
export function requireStoreDir(dir: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`no such directory: ${dir}`);
    throw e;
  }
  if (!info.isDirectory) throw new CliError(`not a directory: ${dir}`);
  if (listSegments(dir).length === 0) {
    throw new CliError(`not a batpak store (no NNNNNN.fbat segment files): ${dir}`);
  }
}

/**
 * Open the existing store in `dir` read-only (see {@linkcode requireStoreDir}):
 * no lock, so it works beside the application that has the store open, and
 * nothing on disk changes (no torn-tail cut, no index image rewrite).
 */
export function openExisting(dir: string): StoreReader {
  requireStoreDir(dir);
  return Store.open({ dataDir: dir, readOnly: true });
}
