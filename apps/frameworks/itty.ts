/**
 * itty-router (from npm, unchanged) on lsbaws.
 *
 * Contract:
 * - The default export is an `AutoRouter` (JSON formatting, 404 for unmatched routes):
 *   `GET /hello/:name` → "Hello, <name>!" as text; `GET /json?q=…` → `{"framework":"itty","q":…}`;
 *   `POST /json` → the posted JSON document echoed inside `{"received": …}`.
 * - `bare` is a base `Router` without a catch-all: for an unmatched path it resolves to
 *   `undefined`, which lsbaws answers with 404 and a log hint
 *   (`deno task examples apps/frameworks/itty.ts:bare`).
 * Run it with `deno task examples:itty` (lsbaws under apps/frameworks/deno.json and its lock).
 */
// Framework examples import npm: specifiers inline (tools/architecture/ rule 2).
// deno-lint-ignore no-import-prefix
import { AutoRouter, type IRequest, Router } from "npm:itty-router@5";

const router = AutoRouter();

router
  .get(
    "/hello/:name",
    ({ params }: IRequest) =>
      new Response(`Hello, ${params.name}!`, { headers: { "content-type": "text/plain" } }),
  )
  .get("/json", ({ query }: IRequest) => ({ framework: "itty", q: query.q ?? null }))
  .post("/json", async (request: IRequest) => ({ received: await request.json() }));

/** A base router: unmatched routes resolve to `undefined`. */
export const bare = Router();
bare.get("/hello/:name", ({ params }: IRequest) => new Response(`Hello, ${params.name}!`));

export default router;
