// Worker entry of tests/browser/opfs_fs_test.ts: the port's cases and a few file operations on
// real OPFS pools, called by name from the Deno side.
import { OpfsFileSystem, type OpfsOpenOptions } from "../../src/fs/opfs.ts";
import type { FileHandle } from "../../src/fs/types.ts";
import { FS_CASES } from "./_fs_cases.ts";
import { serve } from "./_worker_runtime.ts";

const pools = new Map<string, OpfsFileSystem>();
const handles = new Map<string, FileHandle>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function pool(name: string): OpfsFileSystem {
  const fs = pools.get(name);
  if (fs === undefined) throw new Error(`pool ${name} is not open in this worker`);
  return fs;
}

/** Remove a pool's OPFS directory (its handles must be closed). */
async function dropPool(name: string): Promise<void> {
  const root = await (navigator as unknown as {
    storage: {
      getDirectory(): Promise<{ removeEntry(n: string, o: { recursive: boolean }): Promise<void> }>;
    };
  }).storage.getDirectory();
  await root.removeEntry(name, { recursive: true });
}

serve({
  cases: () => Object.keys(FS_CASES),

  async runCase(name: string) {
    const poolName = `case-${crypto.randomUUID()}`;
    const fs = await OpfsFileSystem.open(poolName);
    try {
      fs.mkdir("/data");
      await FS_CASES[name](fs, "/data");
    } finally {
      fs.close();
      await fs.settled(); // a growth in flight releases its new file
      await dropPool(poolName);
    }
  },

  async open(name: string, options?: OpfsOpenOptions) {
    const fs = await OpfsFileSystem.open(name, options);
    pools.set(name, fs);
    return fs.stats();
  },

  stats: (name: string) => {
    const { growthError: _, ...stats } = pool(name).stats();
    return stats;
  },

  settled: (name: string) => pool(name).settled(),

  reserve: (name: string, spares: number) => pool(name).reserve(spares),

  mkdir: (name: string, path: string) => pool(name).mkdir(path),

  readDir: (name: string, path: string) => pool(name).readDir(path),

  write(name: string, path: string, text: string, options?: { sync?: boolean; at?: number }) {
    const fs = pool(name);
    const h = fs.open(path, { read: true, write: true, create: true });
    try {
      h.write(encoder.encode(text), options?.at ?? 0);
      if (options?.sync !== false) h.syncData();
    } finally {
      h.close();
    }
  },

  /** Create `count` files in one synchronous burst; how many were created, and the error. */
  burst(name: string, prefix: string, count: number) {
    const fs = pool(name);
    for (let i = 0; i < count; i++) {
      try {
        fs.open(`${prefix}${i}`, { write: true, createNew: true }).close();
      } catch (err) {
        return {
          created: i,
          code: (err as { code?: string }).code,
          exists: fs.stat(`${prefix}${i}`),
        };
      }
    }
    return { created: count };
  },

  /** Write `bytes` zeros at the end of `path`, in one write. */
  grow(name: string, path: string, bytes: number) {
    const h = pool(name).open(path, { read: true, write: true, create: true });
    try {
      h.write(new Uint8Array(bytes), h.size());
    } finally {
      h.close();
    }
  },

  read(name: string, path: string) {
    const h = pool(name).open(path, { read: true });
    try {
      const buf = new Uint8Array(h.size());
      h.read(buf, 0);
      return decoder.decode(buf);
    } finally {
      h.close();
    }
  },

  size: (name: string, path: string) => pool(name).stat(path)?.size,

  rename: (name: string, from: string, to: string) => pool(name).rename(from, to),

  remove: (name: string, path: string) => pool(name).remove(path),

  /** Keep a handle open (for removals under an open handle). */
  hold(name: string, path: string) {
    handles.set(`${name}:${path}`, pool(name).open(path, { read: true, write: true }));
  },

  async close(name: string) {
    const fs = pool(name);
    fs.close();
    pools.delete(name);
    await fs.settled();
  },

  drop: (name: string) => dropPool(name),
});
