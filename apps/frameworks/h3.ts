/**
 * h3 v2 (from npm, unchanged) on lsbaws: `app.fetch` is a standard fetch handler.
 *
 * Contract:
 * - `GET /hello/:name` → "Hello, <name>!"; `GET /json?q=…` → `{"framework":"h3","q":…}`.
 * - `POST /json` → the parsed JSON body inside `{"received": …}` (`readBody`).
 * - Anything else → h3's 404.
 * Run it with `deno task examples:h3` (lsbaws under apps/frameworks/deno.json and its lock).
 */
// Framework examples import npm: specifiers inline (tools/architecture/ rule 2).
// deno-lint-ignore no-import-prefix
import { getQuery, getRouterParam, H3, readBody } from "npm:h3@2";

/** The h3 app. */
export const app: H3 = new H3()
  .get("/hello/:name", (event) => `Hello, ${getRouterParam(event, "name")}!`)
  .get("/json", (event) => ({ framework: "h3", q: getQuery(event).q ?? null }))
  .post("/json", async (event) => ({ received: await readBody(event) }));

export default app;
