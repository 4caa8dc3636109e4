/**
 * The conformance fixture app.
 *
 * Contract:
 * - `GET /` and `HEAD /` → 200, body exactly `Hello`, `Content-Type: text/plain`.
 * - any method on `/echo` → 200, `Content-Type: application/octet-stream`, and the decoded request
 *   body byte for byte, streamed as it arrives (`lsbaws.input.stream` is returned as the body).
 *   When the request declared a Content-Length the response declares the same one.
 * - anything else → 404.
 */
import type { App } from "../gateway/mod.ts";

const HELLO = new TextEncoder().encode("Hello");
const NOT_FOUND = new TextEncoder().encode("Not Found\n");

/** The conformance fixture (see the module comment). */
export const app: App = function echo(environ, startResponse) {
  const path = environ.PATH_INFO;
  const method = environ.REQUEST_METHOD;
  if (path === "/" && (method === "GET" || method === "HEAD")) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [HELLO];
  }
  if (path === "/echo") {
    const headers: Array<[string, string]> = [["Content-Type", "application/octet-stream"]];
    if (environ.CONTENT_LENGTH !== undefined) {
      headers.push(["Content-Length", environ.CONTENT_LENGTH]);
    }
    startResponse("200 OK", headers);
    return environ["lsbaws.input"].stream;
  }
  startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
  return [NOT_FOUND];
};

export default app;
