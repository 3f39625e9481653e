/**
 * The PostgreSQL client, postgres.js, named once by its full `npm:`
 * specifier: a project that imports this package by path or by URL does
 * not see our `deno.json` import map, so a bare `"postgres"` would fail
 * there with `Import "postgres" not a dependency`. The version range is the
 * one in `deno.json` (the tests use the bare name), so `deno.lock` pins one
 * version for both.
 *
 * @module
 */

export { default } from "npm:postgres@^3.4.9";
