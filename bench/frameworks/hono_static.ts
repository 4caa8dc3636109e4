/**
 * The static-file baseline of `deno task bench`: Hono's `serveStatic` for Deno (npm `hono/deno`,
 * unchanged) on `Deno.serve`, serving the files of `--dir` under `/static/`.
 *
 * Contract:
 * - `GET /static/<name>` answers with the file `<dir>/<name>` through `serveStatic` (Content-Type
 *   from Hono's extension table; the body is the file's `readable`, so Deno.serve sends it
 *   chunked); anything else is Hono's 404.
 * - Port 0 (the default) picks a free port; the line `Hono serveStatic listening on
 *   http://127.0.0.1:PORT` on stdout tells the harness which. SIGTERM shuts the server down.
 * - It lives outside `bench/apps/` and runs (and is type-checked) only under the framework
 *   examples' config and lock (`--config apps/frameworks/deno.json`), so the project's own lock
 *   names no npm package.
 *
 * Usage: `deno run -A --config apps/frameworks/deno.json bench/frameworks/hono_static.ts
 * --dir DIR [--port N]`.
 */
// deno-lint-ignore-file no-console
// Framework code is imported from npm inline, as the framework examples do.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4";
// deno-lint-ignore no-import-prefix
import { serveStatic } from "npm:hono@4/deno";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const dir = flag("dir", "");
if (dir === "") {
  console.error("hono_static.ts: --dir DIR is required");
  Deno.exit(2);
}

const app = new Hono();
app.use(
  "/static/*",
  serveStatic({ root: dir, rewriteRequestPath: (path) => path.slice("/static".length) }),
);

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: Number(flag("port", "0")),
  onListen(addr) {
    console.log(`Hono serveStatic listening on http://${addr.hostname}:${addr.port}`);
  },
}, app.fetch);

Deno.addSignalListener("SIGTERM", () => {
  server.shutdown().then(() => Deno.exit(0));
});
