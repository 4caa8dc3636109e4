/**
 * Elysia (from npm, unchanged) on lsbaws. Elysia's `fetch` is a prototype getter, not an own
 * property, so `deno serve` would refuse `export default app`; lsbaws accepts an inherited fetch.
 *
 * Contract:
 * - `GET /hello/:name` → "Hello, <name>!"; `GET /json?q=…` → `{"framework":"elysia","q":…}`.
 * - `POST /json` → the parsed JSON body inside `{"received": …}`.
 * - Anything else → Elysia's 404.
 * Run it with `deno task examples:elysia` (lsbaws under apps/frameworks/deno.json and its lock).
 */
// Framework examples import npm: specifiers inline (tools/architecture/ rule 2).
// deno-lint-ignore no-import-prefix
import { Elysia } from "npm:elysia@1";

/** The Elysia app. */
export const app = new Elysia()
  .get("/hello/:name", ({ params }) => `Hello, ${params.name}!`)
  .get("/json", ({ query }) => ({ framework: "elysia", q: query.q ?? null }))
  .post("/json", ({ body }) => ({ received: body }));

export default app;
