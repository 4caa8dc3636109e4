/**
 * Unit tests of `bench/lib/servers.ts`: the server list is data (lsbaws on both socket backends,
 * each with the gateway and the fetch app, then Deno.serve and node:http), every derived list
 * follows it, an lsbaws entry's backend arguments reach its command line before the app spec,
 * the old ids are aliases of the libc entries, and the deno-backend entries skip the uploads.
 */
import assert from "node:assert/strict";
import {
  ALL_SERVERS,
  BASELINE,
  isLsbaws,
  resolveServerId,
  runsScenario,
  SERVER_DEFS,
  SERVER_LABELS,
  serverCommand,
  type ServerDef,
  serverDef,
  STATIC_SERVER_DEFS,
  staticServerCommand,
} from "../../bench/lib/servers.ts";
import { parseArgs } from "../../bench/run.ts";

const LSBAWS = [
  "lsbaws-libc-gateway",
  "lsbaws-libc-fetch",
  "lsbaws-deno-gateway",
  "lsbaws-deno-fetch",
];

Deno.test("the server lists are derived from SERVER_DEFS, in round order", () => {
  assert.deepEqual(ALL_SERVERS, [...LSBAWS, "deno-serve", "node-http"]);
  assert.deepEqual(ALL_SERVERS, SERVER_DEFS.map((d) => d.id));
  for (const d of SERVER_DEFS) assert.equal(SERVER_LABELS[d.id], d.label);
  assert.equal(BASELINE, "deno-serve");
  assert.deepEqual(ALL_SERVERS.filter(isLsbaws), LSBAWS);
  assert.equal(isLsbaws("lsbaws-gateway"), false, "an alias is not an entry");
  assert.throws(() => serverDef("nope"), /unknown server nope/);
});

Deno.test("every lsbaws entry names its backend explicitly, never --io auto", () => {
  for (const d of SERVER_DEFS as readonly ServerDef[]) {
    if (d.kind !== "lsbaws") continue;
    assert.deepEqual(d.args, ["--io", d.backend], d.id);
    assert.equal(d.id, `lsbaws-${d.backend}-${d.app}`);
    const cmd = serverCommand(d, "hello", 120_000, "deno");
    assert.deepEqual(cmd.slice(-5), [
      "--keep-alive-timeout-ms",
      "120000",
      "--io",
      d.backend!,
      `bench/apps/hello_${d.app}.ts${d.app === "gateway" ? ":app" : ""}`,
    ]);
  }
  const lsbawsStatic = STATIC_SERVER_DEFS.find((d) => d.kind === "lsbaws")!;
  const cmd = staticServerCommand(lsbawsStatic, { dir: "/srv" }, "deno");
  assert.deepEqual(cmd.slice(cmd.indexOf("--io"), cmd.indexOf("--io") + 2), ["--io", "libc"]);
});

Deno.test("serverCommand builds each kind's command line", () => {
  assert.deepEqual(serverCommand(serverDef("lsbaws-libc-gateway"), "hello", null, "deno"), [
    "deno",
    "run",
    "--unstable-net",
    "-A",
    "main.ts",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--io",
    "libc",
    "bench/apps/hello_gateway.ts:app",
  ]);
  assert.deepEqual(
    serverCommand(serverDef("lsbaws-deno-fetch"), "sink", 120_000, "deno").slice(-5),
    ["--keep-alive-timeout-ms", "120000", "--io", "deno", "bench/apps/sink_fetch.ts"],
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

Deno.test("the old ids name the libc entries; --servers accepts both", () => {
  assert.equal(resolveServerId("lsbaws-gateway"), "lsbaws-libc-gateway");
  assert.equal(resolveServerId("lsbaws-fetch"), "lsbaws-libc-fetch");
  assert.equal(resolveServerId("lsbaws-deno-fetch"), "lsbaws-deno-fetch");
  assert.throws(() => resolveServerId("lsbaws-auto-fetch"), /unknown server lsbaws-auto-fetch/);
  assert.deepEqual(
    parseArgs(["--servers", "lsbaws-deno-fetch,lsbaws-gateway"]).settings.servers,
    ["lsbaws-libc-gateway", "lsbaws-deno-fetch", "deno-serve"],
  );
  assert.throws(() => parseArgs(["--servers", "nope"]), /unknown server nope/);
});

Deno.test("the deno-backend entries skip the upload scenarios, and only those", () => {
  for (const id of ALL_SERVERS) {
    const deno = id.startsWith("lsbaws-deno-");
    for (const s of ["upload-length", "upload-chunked"]) assert.equal(runsScenario(id, s), !deno);
    for (const s of ["keepalive", "pipeline", "close", "keepalive-capped", "fixed-rate", "idle"]) {
      assert.equal(runsScenario(id, s), true, `${id} ${s}`);
    }
  }
});
