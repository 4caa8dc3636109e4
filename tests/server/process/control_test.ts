/**
 * The supervisor ↔ worker protocol (server/process/control.ts) and the worker's end of it
 * (server/process/worker.ts): control lines, bind specs, heartbeat period, request budget with jitter,
 * the recycle message, stdin commands and EOF. No processes, no permissions.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../../../server/config.ts";
import { addrOf, bindSpecOf, parseBind } from "../../../server/address.ts";
import {
  CONTROL_PREFIX,
  encodeControl,
  heartbeatPeriodMs,
  parseControl,
  WORKER_BIND_ENV,
} from "../../../server/process/control.ts";
import { createLogger } from "../../../server/log.ts";
import { connectWorker } from "../../../server/process/worker.ts";

Deno.test("control lines round-trip and reject anything else", () => {
  const msgs = [
    { t: "ready", addrs: ["127.0.0.1:8000", "[::1]:8000", "unix:/tmp/s"] },
    { t: "beat" },
    { t: "stall", ms: 1500, req: "GET /spin" },
    { t: "recycle", requests: 42 },
    { t: "closed" },
  ] as const;
  for (const m of msgs) {
    const line = encodeControl(m);
    assert.ok(
      line.startsWith(CONTROL_PREFIX) && line.endsWith("\n") && !line.slice(0, -1).includes("\n"),
    );
    assert.deepEqual(parseControl(line), m);
  }
  for (
    const bad of [
      "plain log line\n",
      `${CONTROL_PREFIX}{not json}\n`,
      `${CONTROL_PREFIX}{"t":"ready","addrs":[1]}\n`,
      `${CONTROL_PREFIX}{"t":"stall","ms":"x","req":"a"}\n`,
      `${CONTROL_PREFIX}{"t":"other"}\n`,
      `${CONTROL_PREFIX}null\n`,
    ]
  ) {
    assert.equal(parseControl(bad), null, bad);
  }
});

Deno.test("bindSpecOf turns a bound address back into a --bind value", () => {
  assert.equal(
    bindSpecOf({ transport: "tcp", hostname: "127.0.0.1", port: 8001 }),
    "127.0.0.1:8001",
  );
  assert.equal(bindSpecOf({ transport: "tcp", hostname: "::1", port: 8002 }), "[::1]:8002");
  assert.equal(bindSpecOf({ transport: "unix", path: "/run/x.sock" }), "unix:/run/x.sock");
  for (const spec of ["127.0.0.1:8001", "[::1]:8002", "unix:/run/x.sock"]) {
    assert.equal(bindSpecOf(addrOf(parseBind(spec))), spec, "parseBind and bindSpecOf round-trip");
  }
});

Deno.test("heartbeat period is a quarter of --timeout, between 100 ms and 1 s", () => {
  assert.equal(heartbeatPeriodMs(1), 250);
  assert.equal(heartbeatPeriodMs(30), 1000);
  assert.equal(heartbeatPeriodMs(0), 100);
});

function link(
  overrides: Partial<typeof DEFAULTS>,
  random = () => 0,
  env: Record<string, string> = {},
) {
  const sent: string[] = [];
  const logs: string[] = [];
  const logger = createLogger({
    level: "debug",
    accessLog: "",
    accessLogFormat: "common",
    errorSink: { write: (t) => void logs.push(t) },
  });
  const l = connectWorker("7", env, { ...DEFAULTS, ...overrides }, {
    sink: { write: (t) => void sent.push(t) },
    logger,
    random,
  });
  return { l, sent, logs };
}

Deno.test("request budget: --max-requests plus 0..jitter; one recycle message when spent", () => {
  assert.equal(link({ maxRequests: 0 }).l.requestBudget, 0);
  assert.equal(link({ maxRequests: 100, maxRequestsJitter: 10 }, () => 0).l.requestBudget, 100);
  assert.equal(link({ maxRequests: 100, maxRequestsJitter: 10 }, () => 0.999).l.requestBudget, 110);
  const { l, sent, logs } = link({ maxRequests: 3 });
  for (let i = 0; i < 5; i++) l.onRequestDone();
  assert.deepEqual(sent.map((s) => parseControl(s)), [{ t: "recycle", requests: 3 }]);
  assert.ok(logs.some((x) => x.includes("asking to be recycled")));
});

Deno.test("ready reports the bound addresses; binds come from the supervisor", () => {
  const { l, sent } = link({}, () => 0, { [WORKER_BIND_ENV]: '["127.0.0.1:9000"]' });
  assert.deepEqual(l.binds, ["127.0.0.1:9000"]);
  assert.equal(l.id, "7");
  l.ready([{ transport: "tcp", hostname: "127.0.0.1", port: 9000 }]);
  assert.deepEqual(parseControl(sent[0]), { t: "ready", addrs: ["127.0.0.1:9000"] });
  assert.equal(link({}).l.binds, null);
});

Deno.test("watchSupervisor hands over stdin command lines and reports EOF", async () => {
  const chunks = [new TextEncoder().encode("quies"), new TextEncoder().encode("ce\n\nother\n")];
  const stdin = {
    read(p: Uint8Array): Promise<number | null> {
      const c = chunks.shift();
      if (!c) return Promise.resolve(null);
      p.set(c);
      return Promise.resolve(c.length);
    },
  };
  const commands: string[] = [];
  const gone = Promise.withResolvers<void>();
  const logger = createLogger({
    level: "error",
    accessLog: "",
    accessLogFormat: "common",
    errorSink: { write() {} },
  });
  connectWorker("1", {}, DEFAULTS, { sink: { write() {} }, logger, stdin })
    .watchSupervisor(gone.resolve, (c) => commands.push(c));
  await gone.promise;
  assert.deepEqual(commands, ["quiesce", "other"]);
});
