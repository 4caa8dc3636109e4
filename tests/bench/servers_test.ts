/**
 * Unit tests of `bench/lib/servers.ts`: the server list is data, every derived list follows it,
 * and an lsbaws entry's extra CLI arguments (a future `--io libc` backend) reach its command line
 * before the app spec.
 */
import assert from "node:assert/strict";
import {
  ALL_SERVERS,
  BASELINE,
  isLsbaws,
  SERVER_DEFS,
  SERVER_LABELS,
  serverCommand,
  type ServerDef,
  serverDef,
} from "../../bench/lib/servers.ts";

Deno.test("the server lists are derived from SERVER_DEFS, in round order", () => {
  assert.deepEqual(ALL_SERVERS, ["lsbaws-gateway", "lsbaws-fetch", "deno-serve", "node-http"]);
  assert.deepEqual(ALL_SERVERS, SERVER_DEFS.map((d) => d.id));
  for (const d of SERVER_DEFS) assert.equal(SERVER_LABELS[d.id], d.label);
  assert.equal(BASELINE, "deno-serve");
  assert.deepEqual(ALL_SERVERS.filter(isLsbaws), ["lsbaws-gateway", "lsbaws-fetch"]);
  assert.equal(isLsbaws("lsbaws-libc-gateway"), false, "not an entry (yet)");
  assert.throws(() => serverDef("nope"), /unknown server nope/);
});

Deno.test("serverCommand builds each kind's command line", () => {
  assert.deepEqual(serverCommand(serverDef("lsbaws-gateway"), "hello", null, "deno"), [
    "deno",
    "run",
    "--unstable-net",
    "-A",
    "main.ts",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "bench/apps/hello_gateway.ts:app",
  ]);
  assert.deepEqual(
    serverCommand(serverDef("lsbaws-fetch"), "sink", 120_000, "deno").slice(-3),
    ["--keep-alive-timeout-ms", "120000", "bench/apps/sink_fetch.ts"],
  );
  assert.deepEqual(serverCommand(serverDef("deno-serve"), "sink", 120_000, "/bin/deno"), [
    "/bin/deno",
    "run",
    "-A",
    "bench/apps/deno_serve.ts",
    "--app",
    "sink",
  ]);
  assert.deepEqual(serverCommand(serverDef("node-http"), "hello", 5000, "deno"), [
    "node",
    "bench/apps/node_http.mjs",
    "--app",
    "hello",
    "--keep-alive-timeout-ms",
    "5000",
  ]);
});

Deno.test("an lsbaws entry's extra args come before the app spec", () => {
  const libc: ServerDef = {
    id: "lsbaws-libc-gateway",
    label: "lsbaws libc gateway",
    kind: "lsbaws",
    app: "gateway",
    args: ["--io", "libc"],
  };
  const cmd = serverCommand(libc, "hello", 120_000, "deno");
  assert.deepEqual(cmd.slice(-5), [
    "--keep-alive-timeout-ms",
    "120000",
    "--io",
    "libc",
    "bench/apps/hello_gateway.ts:app",
  ]);
  const plain = serverCommand(serverDef("lsbaws-gateway"), "hello", 120_000, "deno");
  assert.deepEqual(cmd.filter((a) => a !== "--io" && a !== "libc"), plain);
});
