/** The gatekeeper (server/policy.ts) in isolation: health path, concurrency limit, pass-through. */
import assert from "node:assert/strict";
import { createGatekeeper, type PolicyTarget, type ServerState } from "../../server/policy.ts";
import type { Responder } from "../../server/exchange.ts";
import type { RequestHead } from "../../server/http/request_head.ts";

function target(path: string) {
  const rec = {
    status: 0,
    headers: [] as Array<readonly [string, string]>,
    body: "",
    closed: false,
  };
  const res = {
    head(status: number, headers: ReadonlyArray<readonly [string, string]>) {
      rec.status = status;
      rec.headers = [...headers];
    },
    write(chunk: Uint8Array) {
      rec.body += new TextDecoder().decode(chunk);
      return undefined;
    },
    end() {
      return undefined;
    },
  } as unknown as Responder;
  const t = {
    head: { method: "GET", target: path, headers: [] } as unknown as RequestHead,
    res,
    closeAfterResponse() {
      rec.closed = true;
    },
  } as unknown as PolicyTarget;
  return { t, rec };
}

function state(inflight = 1, shuttingDown = false): ServerState {
  return { inflight, shuttingDown, requests: 0 };
}

Deno.test("passes requests through when no policy applies", () => {
  const gate = createGatekeeper(
    { limitConcurrency: 0, healthPath: "", metricsPath: "" },
    state(100),
  );
  assert.equal(gate(target("/").t), false);
});

Deno.test("answers 503 with Retry-After and closes past the concurrency limit", () => {
  const gate = createGatekeeper({ limitConcurrency: 2, healthPath: "", metricsPath: "" }, state(3));
  const { t, rec } = target("/");
  assert.equal(gate(t), true);
  assert.equal(rec.status, 503);
  assert.ok(rec.headers.some(([n, v]) => n === "retry-after" && v === "1"));
  const length = rec.headers.find(([n]) => n === "content-length")![1];
  assert.equal(Number(length), rec.body.length);
  assert.ok(rec.closed);
  assert.equal(
    createGatekeeper({ limitConcurrency: 2, healthPath: "", metricsPath: "" }, state(2))(t),
    false,
  );
});

Deno.test("answers the health path (query ignored): 200 while serving, 503 when shutting down", () => {
  const up = target("/healthz?probe=1");
  assert.equal(
    createGatekeeper({ limitConcurrency: 0, healthPath: "/healthz", metricsPath: "" }, state())(
      up.t,
    ),
    true,
  );
  assert.equal(up.rec.status, 200);
  assert.equal(up.rec.body, "OK\n");
  const down = target("/healthz");
  createGatekeeper(
    { limitConcurrency: 0, healthPath: "/healthz", metricsPath: "" },
    state(1, true),
  )(down.t);
  assert.equal(down.rec.status, 503);
  assert.equal(
    createGatekeeper({ limitConcurrency: 0, healthPath: "/healthz", metricsPath: "" }, state())(
      target("/x").t,
    ),
    false,
  );
});
