/**
 * Hono's WebSocket helper running unchanged on lsbaws.
 *
 * Contract:
 * - `GET /ws` upgrades with Hono's Deno adapter (`upgradeWebSocket` from `hono/deno`, which calls
 *   `Deno.upgradeWebSocket` at request time) and echoes every message, prefixed with `hono:` for
 *   text; binary messages come back unchanged.
 * - `GET /` answers `hono` as text; anything else is Hono's 404.
 * Run it with `deno task examples:hono-ws` (lsbaws under apps/frameworks/deno.json and its lock).
 */
// Framework examples import npm: specifiers inline (tools/architecture/ rule 2).
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4";
// deno-lint-ignore no-import-prefix
import { upgradeWebSocket } from "npm:hono@4/deno";

/** The Hono app (its `fetch` is what lsbaws calls). */
export const app: Hono = new Hono();

app.get("/", (c) => c.text("hono"));

app.get(
  "/ws",
  upgradeWebSocket(() => ({
    onMessage(event, ws) {
      const data = event.data;
      if (typeof data === "string") ws.send(`hono:${data}`);
      else if (data instanceof ArrayBuffer) ws.send(data);
    },
  })),
);

export default app;
