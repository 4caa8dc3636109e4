/**
 * The `Deno.serve` baseline: serves the same fetch app modules that lsbaws serves
 * (`hello_fetch.ts`, or `sink_fetch.ts` with `--app sink`).
 *
 * Usage: `deno run -A bench/apps/deno_serve.ts [--port N] [--app hello|sink]`. Port 0 (the
 * default) picks a free port; the line `Deno.serve listening on http://127.0.0.1:PORT` on stdout
 * tells the harness which. Deno.serve's own defaults are kept (no logging, no extra options).
 */
// deno-lint-ignore-file no-console
import hello from "./hello_fetch.ts";
import sink from "./sink_fetch.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const port = Number(flag("port", "0"));
const which = flag("app", "hello");
const app = which === "sink" ? sink : hello;
if (which !== "hello" && which !== "sink") {
  console.error(`deno_serve.ts: unknown --app ${which} (hello or sink)`);
  Deno.exit(2);
}

const server = Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen(addr) {
    console.log(`Deno.serve listening on http://${addr.hostname}:${addr.port}`);
  },
}, app.fetch);

Deno.addSignalListener("SIGTERM", () => {
  server.shutdown().then(() => Deno.exit(0));
});
