/**
 * A short, safe description of any value for error messages: never calls
 * user code (no getters, no `toString`), so describing a hostile argument
 * cannot throw or re-enter the store.
 *
 * @module
 */

/** A short description of `v`, e.g. `"abc"`, `42`, `an array`, `an object (Map)`. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
    case "number":
    case "bigint":
    case "boolean":
      return String(v);
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  try {
    if (Array.isArray(v)) return "an array";
    const proto = Object.getPrototypeOf(v);
    if (proto === null) return "an object (null prototype)";
    const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    const name = typeof ctor === "function" ? ctor.name : "";
    return name ? `an object (${name})` : "an object";
  } catch {
    return "an object (a Proxy that throws)";
  }
}
