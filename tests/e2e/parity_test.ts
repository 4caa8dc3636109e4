/**
 * Fetch apps see the same request under lsbaws as under `Deno.serve`, and their response headers
 * go out the same way: the same raw requests are sent to both and compared.
 */
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";
import { roundTrip } from "../_support/raw_client.ts";
import { handler } from "./fixtures/parity_app.ts";

const REQUESTS = [
  "GET /a/../b?x=%7e&y HTTP/1.1\r\nHost: Example.COM:PORT\r\nUser-Agent: t/1\r\nConnection: close\r\n\r\n",
  "get /lower HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n",
  "DELETE /x//y/./z HTTP/1.1\r\nHost: localhost:PORT\r\nConnection: close\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: localhost:PORT\r\nConnection: close\r\n\r\n",
];

/** The body and the app-set header lines (server-set Date/Server/length/connection excluded). */
function digest(text: string): { body: string; lines: string[] } {
  const [head, body] = text.split("\r\n\r\n");
  const lines = head.split("\r\n").slice(1)
    .filter((l) => !/^(date|server|content-length|connection):/i.test(l));
  return { body, lines };
}

Deno.test("parity: a fetch app sees and answers the same under lsbaws and Deno.serve", async () => {
  const ds = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const ls = await startApp("tests/e2e/fixtures/parity_app.ts");
  try {
    for (const template of REQUESTS) {
      const a = digest(
        (await roundTrip(ds.addr.port, template.replace("PORT", String(ds.addr.port)), {
          untilClose: true,
        })).text,
      );
      const b = digest(
        (await roundTrip(ls.port, template.replace("PORT", String(ds.addr.port)), {
          untilClose: true,
        })).text,
      );
      assert.deepStrictEqual(b, a, template.split("\r\n")[0]);
    }
  } finally {
    await ls.close();
    await ds.shutdown();
  }
});
