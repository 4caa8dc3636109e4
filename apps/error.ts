/**
 * Apps that fail on purpose (like waitress's `fixtureapps/error.py`), one per path.
 *
 * Contract:
 * - `/before`   throws before calling startResponse → canned 500 (APP-4).
 * - `/after`    sends one chunk, then throws → the connection is aborted (APP-4).
 * - `/contract` returns a string chunk → AppContractError BODY-2 → canned 500.
 * - `/hop`      sets a `Connection` header → AppContractError SR-6 → canned 500.
 * - anything else → 200 with the list of paths.
 */
import type { App, ResponseBody } from "../gateway/mod.ts";

const encoder = new TextEncoder();
const INDEX = encoder.encode("/before /after /contract /hop\n");

/** Fails in the way the path names (see the module comment). */
export const app: App = function error(environ, startResponse) {
  switch (environ.PATH_INFO) {
    case "/before":
      throw new Error("boom before startResponse");
    case "/after":
      startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return failAfterFirstChunk();
    case "/contract":
      startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return ["a string is not a chunk"] as unknown as ResponseBody;
    case "/hop":
      startResponse("200 OK", [["Connection", "close"]]);
      return [];
    default:
      startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return [INDEX];
  }
};

export default app;

function* failAfterFirstChunk(): Generator<Uint8Array> {
  yield encoder.encode("first chunk\n");
  throw new Error("boom after the first chunk");
}
