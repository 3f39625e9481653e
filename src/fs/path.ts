/**
 * `/`-separated path strings, the only form the storage port takes: plain
 * string work, no runtime path module, so the same code runs in a browser.
 *
 * @module
 */

/** `dir` and `name` joined with one `/`. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** An absolute path with `.`, `..`, repeated and trailing slashes resolved (`"a/b"` is `"/a/b"`). */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

/** The parent of a normalised path (`"/"` for `"/"` and top-level names). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The last part of a normalised path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
