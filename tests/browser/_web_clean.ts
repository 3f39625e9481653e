/**
 * Is a module graph web-clean? Finds every local module reachable from an
 * entry that imports `node:*` or uses the `Deno` global (outside comments
 * and strings), with the import chain that pulls it in, and scans a built
 * bundle for the same. Used by `deno task build:browser` and its test.
 *
 * @module
 */

/** One module that keeps a graph from running in a browser. */
export interface Offender {
  /** Path relative to the repository root. */
  module: string;
  /** Its `node:` imports. */
  nodeImports: string[];
  /** Lines (1-based) where code uses the `Deno` global. */
  denoLines: number[];
  /** The import chain from the entry to it (entry first). */
  chain: string[];
}

interface InfoModule {
  specifier: string;
  local?: string;
  dependencies?: {
    specifier: string;
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

const ROOT_URL = new URL("../../", import.meta.url).href;

function relative(specifier: string): string {
  return specifier.startsWith(ROOT_URL) ? specifier.slice(ROOT_URL.length) : specifier;
}

/** Tokens after which a `/` starts a regular expression rather than a division. */
const REGEX_PREFIX =
  /[(,=:[!&|?{};+\-*%<>~^]$|^$|\b(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/;

/**
 * `source` with every comment, string and regular-expression literal
 * blanked out (newlines kept, so line numbers stay), for searching code
 * only. Template literals keep their `${...}` expressions.
 */
export function codeOnly(source: string, keepStrings = false): string {
  const out: string[] = [];
  let i = 0;
  let last = ""; // the previous significant characters, for the regex heuristic
  const templateDepth: number[] = []; // brace depth at each open `${`
  let braces = 0;
  const blank = (from: number, to: number) => {
    out.push(source.slice(from, to).replace(/[^\n]/g, " "));
  };
  const keep = (from: number, to: number) => {
    out.push(keepStrings ? source.slice(from, to) : source.slice(from, to).replace(/[^\n]/g, " "));
  };
  const skipString = (quote: string): void => {
    const start = i++;
    while (i < source.length && source[i] !== quote && source[i] !== "\n") {
      i += source[i] === "\\" ? 2 : 1;
    }
    i++;
    keep(start, i);
  };
  const skipTemplate = (): void => {
    const start = i;
    while (i < source.length) {
      if (source[i] === "\\") i += 2;
      else if (source[i] === "`") {
        i++;
        blank(start, i);
        return;
      } else if (source[i] === "$" && source[i + 1] === "{") {
        i += 2;
        blank(start, i);
        templateDepth.push(braces);
        braces++;
        return;
      } else i++;
    }
    blank(start, i);
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      skipString(c);
      last = "x";
    } else if (c === "`") {
      i++;
      out.push(" ");
      skipTemplate();
      last = "x";
    } else if (c === "/" && REGEX_PREFIX.test(last.trimEnd())) {
      const start = i++;
      let inClass = false;
      while (i < source.length && source[i] !== "\n") {
        if (source[i] === "\\") i++;
        else if (source[i] === "[") inClass = true;
        else if (source[i] === "]") inClass = false;
        else if (source[i] === "/" && !inClass) break;
        i++;
      }
      i++;
      while (/[a-z]/i.test(source[i] ?? "")) i++;
      blank(start, i);
      last = "x";
    } else {
      if (c === "{") braces++;
      if (c === "}") {
        braces--;
        if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces) {
          templateDepth.pop();
          out.push(" ");
          i++;
          skipTemplate();
          continue;
        }
      }
      out.push(c);
      if (!/\s/.test(c)) last = (last + c).slice(-12);
      else last += c;
      i++;
    }
  }
  return out.join("");
}

/** Lines (1-based) of `source` whose code uses the `Deno` global. */
export function denoLines(source: string): number[] {
  const lines: number[] = [];
  codeOnly(source).split("\n").forEach((line, n) => {
    if (/(?<![\w$.])Deno\b/.test(line)) lines.push(n + 1);
  });
  return lines;
}

/**
 * Every local module reachable from `entry` (a path) that imports `node:*`
 * or uses `Deno`, by `deno info --json`, in graph order.
 */
export async function offenders(entry: string): Promise<Offender[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
  };
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  // Breadth first from the root, so each chain is a shortest one.
  const parent = new Map<string, string | undefined>([[info.roots[0], undefined]]);
  const queue = [info.roots[0]];
  const found: Offender[] = [];
  while (queue.length > 0) {
    const url = queue.shift()!;
    const mod = byUrl.get(url);
    if (mod === undefined || !url.startsWith("file:")) continue;
    const nodeImports: string[] = [];
    for (const dep of mod.dependencies ?? []) {
      const target = dep.code?.specifier ?? dep.type?.specifier ?? dep.specifier;
      if (target.startsWith("node:")) {
        nodeImports.push(target);
        continue;
      }
      if (!parent.has(target)) {
        parent.set(target, url);
        queue.push(target);
      }
    }
    const lines = mod.local ? denoLines(Deno.readTextFileSync(mod.local)) : [];
    if (nodeImports.length > 0 || lines.length > 0) {
      const chain: string[] = [];
      for (let at: string | undefined = url; at !== undefined; at = parent.get(at)) {
        chain.unshift(relative(at));
      }
      found.push({ module: relative(url), nodeImports, denoLines: lines, chain });
    }
  }
  return found;
}

/** A readable report of `found`, one module a line, with the chain that pulls it in. */
export function formatOffenders(found: Offender[]): string {
  return found.map((o) => {
    const what = [
      ...o.nodeImports.map((s) => `imports ${s}`),
      ...(o.denoLines.length > 0 ? [`uses Deno at line ${o.denoLines.join(", ")}`] : []),
    ].join("; ");
    return `  ${o.module}: ${what}\n      via ${o.chain.join(" -> ")}`;
  }).join("\n");
}

/** What in a built bundle still refers to `node:` modules or `Deno`; empty when clean. */
export function bundleProblems(bundle: string): string[] {
  const problems: string[] = [];
  const code = codeOnly(bundle, true);
  for (const m of code.matchAll(/(?:from|import|require)\s*\(?\s*["'](node:[^"']+)["']/g)) {
    problems.push(`imports ${m[1]}`);
  }
  for (const line of denoLines(bundle)) {
    problems.push(
      `uses Deno at line ${line}: ${bundle.split("\n")[line - 1].trim().slice(0, 120)}`,
    );
  }
  return problems;
}
