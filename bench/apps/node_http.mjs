/**
 * The `node:http` baseline, run with Node.js: the same two apps as the lsbaws and `Deno.serve`
 * variants, written against `node:http` with the same logic, body bytes and Content-Type.
 *
 * Usage: `node bench/apps/node_http.mjs [--port N] [--app hello|sink] [--keep-alive-timeout-ms N]`.
 * Port 0 (the default) picks a free port; the line `node:http listening on http://127.0.0.1:PORT`
 * on stdout tells the harness which. Node's defaults are kept except `keepAliveTimeout` when the
 * flag is given (the idle-connections scenario raises it for every server alike).
 */
// deno-lint-ignore-file no-console
import http from "node:http";
import process from "node:process";
import { CONTENT_TYPE, HELLO_BODY } from "./payload.mjs";

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(flag("port", "0"));
const which = flag("app", "hello");
const keepAliveTimeoutMs = flag("keep-alive-timeout-ms", "");

/** Hello world: a new body string and header object per request. */
function hello(_req, res) {
  res.statusCode = 200;
  res.setHeader("Content-Type", CONTENT_TYPE);
  res.end(HELLO_BODY);
}

/** Upload sink: counts and discards the body, answers with the count. */
function sink(req, res) {
  let total = 0;
  req.on("data", (chunk) => {
    total += chunk.length;
  });
  req.on("end", () => {
    res.statusCode = 200;
    res.setHeader("Content-Type", CONTENT_TYPE);
    res.end(String(total));
  });
}

if (which !== "hello" && which !== "sink") {
  console.error(`node_http.mjs: unknown --app ${which} (hello or sink)`);
  process.exit(2);
}
const server = http.createServer(which === "sink" ? sink : hello);
if (keepAliveTimeoutMs !== "") server.keepAliveTimeout = Number(keepAliveTimeoutMs);
server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  console.log(`node:http listening on http://127.0.0.1:${addr.port}`);
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
