/**
 * Hono (from npm, unchanged) on lsbaws: the app is exported as-is and lsbaws calls its `fetch`.
 *
 * Contract:
 * - `GET /` → "hono on lsbaws"; `GET /hello/:name` → "Hello, <name>!" (a route parameter).
 * - `GET /json?q=…` → `{"framework":"hono","q":…}` as JSON.
 * - `POST /form` → the fields of a urlencoded or multipart/form-data body (`c.req.parseBody()`)
 *   as JSON; a file field becomes `{name, type, size}`.
 * - `GET /stream?n=K` → K lines "line i" (default 5) streamed with `hono/streaming`, 5 ms apart
 *   (sent chunked).
 * - `GET /conninfo` → the client address through Hono's Deno helper (`getConnInfo`, which reads
 *   the `ServeHandlerInfo` lsbaws passes as the second argument).
 * - Anything else → Hono's own 404.
 * Run it with `deno task examples:hono` (lsbaws under apps/frameworks/deno.json and its lock), or
 * `deno serve --config apps/frameworks/deno.json apps/frameworks/hono.ts`: the same module works
 * there.
 */
// Framework examples import npm: specifiers inline (tools/architecture/ rule 2).
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4";
// deno-lint-ignore no-import-prefix
import { streamText } from "npm:hono@4/streaming";
// deno-lint-ignore no-import-prefix
import { getConnInfo } from "npm:hono@4/deno";

/** The Hono app (its `fetch` is what lsbaws calls). */
export const app: Hono = new Hono();

app.get("/", (c) => c.text("hono on lsbaws"));

app.get("/hello/:name", (c) => c.text(`Hello, ${c.req.param("name")}!`));

app.get("/json", (c) => c.json({ framework: "hono", q: c.req.query("q") ?? null }));

app.post("/form", async (c) => {
  const body = await c.req.parseBody({ all: true });
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const values = Array.isArray(value) ? value : [value];
    const shown = values.map((v) =>
      v instanceof File ? { name: v.name, type: v.type, size: v.size } : v
    );
    out[key] = shown.length === 1 ? shown[0] : shown;
  }
  return c.json(out);
});

app.get("/stream", (c) => {
  const n = Math.min(Number(c.req.query("n") ?? "5") || 0, 1000);
  return streamText(c, async (stream) => {
    for (let i = 0; i < n; i++) {
      if (i > 0) await stream.sleep(5);
      await stream.writeln(`line ${i}`);
    }
  });
});

app.get("/conninfo", (c) => c.json(getConnInfo(c).remote));

export default app;
