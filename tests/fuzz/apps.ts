/**
 * The fuzz fixture apps: the same three routes in both app styles, so a fuzz run exercises the
 * gateway runner and the fetch adapter with and without body reads.
 *
 * Contract (both `gateway` and `fetchApp`):
 * - `POST` (any path) → 200, the request body echoed back as it streams in (`application/
 *   octet-stream`; the gateway app declares the request's Content-Length when it had one).
 * - `PUT` (any path) → reads the whole body first, then 200 with its byte count as text.
 * - anything else → 200 "Hello" without touching the body.
 * No route answers anything but 200, so every 4xx/5xx a fuzz client sees comes from lsbaws itself.
 */
import type { App } from "../../gateway/mod.ts";

const HELLO = new TextEncoder().encode("Hello");

/** Gateway style (environ, startResponse); see the module comment. */
export const gateway: App = async function fuzzGateway(environ, startResponse) {
  const method = environ.REQUEST_METHOD;
  const input = environ["lsbaws.input"];
  if (method === "POST") {
    const headers: Array<[string, string]> = [["Content-Type", "application/octet-stream"]];
    if (environ.CONTENT_LENGTH !== undefined) {
      headers.push(["Content-Length", environ.CONTENT_LENGTH]);
    }
    startResponse("200 OK", headers);
    return input.stream;
  }
  if (method === "PUT") {
    const body = await input.read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode(String(body.length))];
  }
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [HELLO];
};

/** Fetch style (`{ fetch }`, as `deno serve` runs); see the module comment. */
export const fetchApp = {
  /** Answers one request. */
  async fetch(request: Request): Promise<Response> {
    if (request.method === "POST") {
      return new Response(request.body, {
        headers: { "Content-Type": "application/octet-stream" },
      });
    }
    if (request.method === "PUT") {
      const body = await request.arrayBuffer();
      return new Response(String(body.byteLength));
    }
    return new Response(HELLO);
  },
};
