/**
 * The I/O-free connection core, driven with byte fixtures fed every way (whole, byte by byte,
 * line by line, split after CR, seeded random splits): the bytes it writes and the state it ends
 * in must not depend on how the input was cut. Runs with no permissions.
 *
 * The harness plays a small app over the core's synchronous API: it reads the body (or not),
 * answers, finishes the exchange, drains when told, and serves every pipelined request buffered.
 */
import assert from "node:assert/strict";
import { ConnectionCore, type CoreOptions } from "../../../server/http/connection_core.ts";
import { CYCLE, CycleError, EVENTS, nextState, STATES, step } from "../../../server/http/cycle.ts";
import type { RequestHead } from "../../../server/http/request_head.ts";
import { concatBytes, DEFAULT_LIMITS, latin1, waysFor } from "./_helpers.ts";

const DATE = "Thu, 01 Jan 2026 00:00:00 GMT";

/** What the fake app does with a request. */
interface AppPlan {
  /** Read the whole body before answering (default true). */
  readBody?: boolean;
  /** Read it with `takeBodyInto` and a target of this many bytes instead of `takeBody`. */
  readInto?: number;
  /** Response status (default 200). */
  status?: number;
  /** Declare Content-Length (default true). */
  declare?: boolean;
  /** Throw before answering: the harness answers through the error mapping. */
  fail?: boolean;
  /** Declared length differs from the body sent by this many bytes (negative: short). */
  lengthDelta?: number;
}

interface RunResult {
  out: string;
  state: string;
  served: string[];
}

function options(over: Partial<CoreOptions> = {}): CoreOptions {
  return {
    limits: DEFAULT_LIMITS,
    readBufferBytes: 1024,
    idleReadBufferBytes: 64,
    maxDrainBytes: 16,
    serverHeader: "",
    date: () => DATE,
    server: { shuttingDown: false },
    ...over,
  };
}

/** Copies `bytes` into the core the way a driver would: one or more reads into `writable()`. */
function feed(core: ConnectionCore, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    const view = core.writable();
    assert.ok(view.length > 0, "receive buffer full");
    const n = Math.min(view.length, bytes.length - off);
    view.set(bytes.subarray(off, off + n));
    core.receive(n);
    off += n;
  }
}

/** Runs the core over `input` delivered at `cuts`, answering with `plan(head)`. */
function run(
  input: Uint8Array,
  cuts: readonly number[],
  plan: (head: RequestHead) => AppPlan,
  opts: Partial<CoreOptions> = {},
): RunResult {
  const core = new ConnectionCore(options(opts));
  const out: Uint8Array[] = [];
  const served: string[] = [];
  let at = 0;
  let cur: { head: RequestHead; plan: AppPlan; body: Uint8Array[]; answered: boolean } | null =
    null;
  let draining = false;
  let stop = false;

  const answer = () => {
    const c = cur!;
    const body = concatBytes(...c.body);
    const p = c.plan;
    if (p.fail) {
      assert.ok(core.rollbackResponse());
      core.queueError(new Error("app failed"));
      c.answered = true;
      return;
    }
    const text = latin1(`${c.head.method} ${c.head.target} ${body.length}:`);
    const payload = concatBytes(...[text, body]);
    const headers: Array<[string, string]> = [];
    if (p.declare ?? true) {
      headers.push(["Content-Length", String(payload.length + (p.lengthDelta ?? 0))]);
    }
    core.responseHead(p.status ?? 200, headers);
    core.responseBody(payload);
    core.responseEnd();
    c.answered = true;
  };

  const step = () => {
    // Advance the current exchange, then start buffered requests, until more input is needed.
    while (!stop) {
      if (cur !== null) {
        if (draining) {
          while (core.takeBody(core.maxDrainBytes) !== null) { /* discard */ }
          if (!core.bodyDone && core.bodyBytes <= core.maxDrainBytes) return;
          const v = core.finishDrain(core.bodyDone && core.bodyBytes <= core.maxDrainBytes);
          draining = false;
          cur = null;
          if (v === "close") stop = true;
          continue;
        }
        if ((cur.plan.readBody ?? true) && !cur.answered) {
          core.markBodyRead();
          const into = cur.plan.readInto;
          if (into === undefined) {
            let chunk;
            while ((chunk = core.takeBody()) !== null) cur.body.push(chunk);
          } else {
            const target = new Uint8Array(into);
            let n;
            while ((n = core.takeBodyInto(target)) > 0) cur.body.push(target.slice(0, n));
          }
          if (!core.bodyDone) return;
        }
        if (!cur.answered) answer();
        const v = core.finishExchange(cur.plan.fail === true);
        if (v === "drain") {
          draining = true;
          continue;
        }
        cur = null;
        if (v === "close") stop = true;
        continue;
      }
      if (!core.hasBuffered) return;
      const ev = core.nextRequest();
      if (ev.kind === "partial") return;
      if (ev.kind === "error") {
        served.push(`error ${ev.error.code}`);
        stop = true;
        return;
      }
      served.push(`${ev.head.method} ${ev.head.target}`);
      cur = { head: ev.head, plan: plan(ev.head), body: [], answered: false };
    }
  };

  for (const cut of cuts) {
    if (stop) break;
    feed(core, input.subarray(at, cut));
    at = cut;
    step();
    take(core, out);
  }
  take(core, out);
  return { out: new TextDecoder("latin1").decode(concatBytes(...out)), state: core.state, served };
}

/** Takes the queued output as the driver would, copying it (taken segments are recycled). */
function take(core: ConnectionCore, into: Uint8Array[]): void {
  for (const piece of core.takeOutput()) into.push(piece.slice());
}

/** Runs `input` every way; every way must produce the same bytes, state and requests. */
function allWays(
  input: string,
  plan: (head: RequestHead) => AppPlan = () => ({}),
  opts: Partial<CoreOptions> = {},
): RunResult {
  const bytes = latin1(input);
  let first: RunResult | null = null;
  for (const way of waysFor(bytes, 6)) {
    const r = run(bytes, way.cuts, plan, opts);
    if (first === null) first = r;
    else assert.deepStrictEqual(r, first, `fed ${way.name}`);
  }
  return first!;
}

const GET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

Deno.test("answers a keep-alive GET and returns to idle", () => {
  const r = allWays(GET);
  assert.equal(
    r.out,
    `HTTP/1.1 200 OK\r\nContent-Length: 8\r\nDate: ${DATE}\r\n\r\nGET / 0:`,
  );
  assert.equal(r.state, "idle");
});

Deno.test("answers pipelined requests in order, whatever the cuts", () => {
  const r = allWays(
    GET + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n" + "HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n",
  );
  assert.deepEqual(r.served, ["GET /", "GET /2", "HEAD /3"]);
  const parts = r.out.split("HTTP/1.1 200 OK");
  assert.equal(parts.length, 4);
  assert.ok(parts[1].endsWith("GET / 0:") && parts[2].endsWith("GET /2 0:"));
  // HEAD keeps the declared Content-Length and sends no body.
  assert.ok(parts[3].includes("Content-Length: 10") && parts[3].endsWith("\r\n\r\n"));
  assert.equal(r.state, "idle");
});

Deno.test("decodes a Content-Length body and a chunked body with trailers", () => {
  const r = allWays(
    "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
      "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
  );
  assert.deepEqual(r.served, ["POST /a", "POST /b"]);
  assert.ok(r.out.includes("POST /a 5:hello"));
  assert.ok(r.out.includes("POST /b 5:abcde"));
  assert.equal(r.state, "idle");
});

Deno.test("takeBodyInto copies the same body bytes as takeBody, whatever the cuts and target size", () => {
  const input = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world" +
    "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;x=y\r\nabc\r\n1\r\nd\r\n7\r\nefghijk\r\n0\r\nX-T: 1\r\n\r\n" + GET;
  const plain = allWays(input);
  assert.ok(plain.out.includes("POST /a 11:hello world"));
  assert.ok(plain.out.includes("POST /b 11:abcdefghijk"));
  for (const size of [1, 2, 3, 5, 64]) {
    assert.deepStrictEqual(allWays(input, () => ({ readInto: size })), plain, `target ${size}`);
  }
  // An empty target copies nothing and leaves the body to the next call.
  const core = new ConnectionCore(options());
  feed(core, latin1("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"));
  assert.equal(core.nextRequest().kind, "request");
  assert.equal(core.takeBodyInto(new Uint8Array(0)), 0);
  const target = new Uint8Array(8);
  assert.equal(core.takeBodyInto(target), 2);
  assert.equal(core.bodyDone, true);
  assert.equal(core.bodyBytes, 2);
  assert.equal(core.takeBodyInto(target), 0);
});

Deno.test("streams chunked on HTTP/1.1 and close-delimited on HTTP/1.0 when no length is declared", () => {
  const r11 = allWays(GET, () => ({ declare: false }));
  assert.ok(r11.out.includes("Transfer-Encoding: chunked\r\n"));
  assert.ok(r11.out.endsWith("8\r\nGET / 0:\r\n0\r\n\r\n"));
  assert.equal(r11.state, "idle");
  const r10 = allWays(
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    () => ({ declare: false }),
  );
  assert.ok(r10.out.includes("Connection: close\r\n"));
  assert.ok(!r10.out.includes("Transfer-Encoding"));
  assert.equal(r10.state, "closing");
});

Deno.test("HTTP/1.0 keep-alive is honoured with a declared length", () => {
  const r = allWays("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "GET /2 HTTP/1.0\r\n\r\n");
  assert.deepEqual(r.served, ["GET /", "GET /2"]);
  assert.ok(r.out.includes("Connection: keep-alive\r\n"));
  assert.equal(r.state, "closing"); // The second request did not ask for keep-alive.
});

Deno.test("Connection: close ends the connection and ignores later bytes", () => {
  const r = allWays("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + GET);
  assert.deepEqual(r.served, ["GET /"]);
  assert.ok(r.out.includes("Connection: close\r\n"));
  assert.equal(r.state, "closing");
});

Deno.test("a malformed request gets its canned status with Connection: close; later bytes are never served", () => {
  const r = allWays(
    GET + "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx" + GET,
  );
  assert.deepEqual(r.served, ["GET /", "error INVALID_CONTENT_LENGTH"]);
  assert.ok(r.out.includes("HTTP/1.1 400 Bad Request\r\n"));
  assert.ok(r.out.endsWith("Connection: close\r\n\r\n400 Bad Request\n"));
  assert.equal(r.state, "closing");
});

Deno.test("a smuggling attempt (CL + TE) is refused before any app sees it", () => {
  const r = allWays(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  );
  assert.deepEqual(r.served, ["error CONFLICTING_FRAMING"]);
  assert.ok(r.out.startsWith("HTTP/1.1 400 "));
});

Deno.test("sends 100 Continue when the app reads the body, before the final response", () => {
  const r = allWays(
    "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
  );
  assert.ok(r.out.startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
  assert.ok(r.out.endsWith("POST / 2:hi"));
  assert.equal(r.state, "idle");
});

Deno.test("no 100 Continue when the app answers without reading; the connection closes", () => {
  const r = allWays(
    "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    () => ({ readBody: false, status: 403 }),
  );
  assert.ok(r.out.startsWith("HTTP/1.1 403 Forbidden\r\n"));
  assert.ok(!r.out.includes("100 Continue"));
  assert.ok(r.out.includes("Connection: close\r\n"));
  assert.equal(r.state, "closing");
});

Deno.test("drains a small unread body and serves the next pipelined request", () => {
  const r = allWays(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789" + GET,
    (h) => ({ readBody: h.method !== "POST" }),
  );
  assert.deepEqual(r.served, ["POST /", "GET /"]);
  assert.ok(!r.out.includes("Connection: close"));
  assert.equal(r.state, "idle");
});

Deno.test("an unread body over maxDrainBytes closes the connection", () => {
  const r = allWays(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n" + "x".repeat(40) + GET,
    () => ({ readBody: false }),
  );
  assert.deepEqual(r.served, ["POST /"]);
  assert.ok(r.out.includes("Connection: close\r\n"));
  assert.equal(r.state, "closing");
});

Deno.test("an unread chunked body over maxDrainBytes closes the connection after draining fails", () => {
  const body = "14\r\n" + "y".repeat(20) + "\r\n0\r\n\r\n";
  const r = allWays(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body + GET,
    () => ({ readBody: false }),
  );
  assert.deepEqual(r.served, ["POST /"]);
  assert.equal(r.state, "closing");
});

Deno.test("an app failure is answered through the one error mapping (500, close)", () => {
  const r = allWays(GET + GET, () => ({ fail: true }));
  assert.deepEqual(r.served, ["GET /"]);
  assert.ok(r.out.startsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  assert.ok(r.out.endsWith("Connection: close\r\n\r\n500 Internal Server Error\n"));
  assert.equal(r.state, "closing");
});

Deno.test("a response shorter than its Content-Length closes the connection", () => {
  const r = allWays(GET + GET, () => ({ lengthDelta: 3 }));
  assert.deepEqual(r.served, ["GET /"]);
  assert.equal(r.state, "closing");
});

Deno.test("bytes beyond a declared Content-Length are dropped and the connection closes", () => {
  const r = allWays(GET + GET, () => ({ lengthDelta: -3 }));
  assert.deepEqual(r.served, ["GET /"]);
  assert.ok(r.out.endsWith("Content-Length: 5\r\nDate: " + DATE + "\r\n\r\nGET /"));
  assert.equal(r.state, "closing");
});

Deno.test("204 and 304 carry no body; 304 may keep the length (RFC 9110 §8.6)", () => {
  const r = allWays(GET, () => ({ status: 204, declare: false }));
  assert.equal(r.out, `HTTP/1.1 204 No Content\r\nDate: ${DATE}\r\n\r\n`);
  const r304 = allWays(GET, () => ({ status: 304 }));
  assert.equal(
    r304.out,
    `HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\nDate: ${DATE}\r\n\r\n`,
  );
  const r204 = allWays(GET, () => ({ status: 204 }));
  assert.ok(!r204.out.includes("Content-Length"));
});

Deno.test("shutting down: every response says Connection: close", () => {
  const r = allWays(GET + GET, () => ({}), { server: { shuttingDown: true } });
  assert.deepEqual(r.served, ["GET /"]);
  assert.ok(r.out.includes("Connection: close\r\n"));
  assert.equal(r.state, "closing");
});

Deno.test("a request head that never completes stays partial; a timeout then queues 408", () => {
  const core = new ConnectionCore(options());
  feed(core, latin1("GET / HTTP/1.1\r\nHost: a\r\n"));
  assert.equal(core.nextRequest().kind, "partial");
  assert.equal(core.state, "head");
  core.queueTimeout();
  assert.equal(core.state, "closing");
  const out = new TextDecoder().decode(concatBytes(...core.takeOutput()));
  assert.ok(out.startsWith("HTTP/1.1 408 Request Timeout\r\n"));
});

Deno.test("a head larger than maxHeadBytes is refused with 431", () => {
  const limits = { ...DEFAULT_LIMITS, maxHeadBytes: 64 };
  const r = allWays(
    "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + "v".repeat(80) + "\r\n\r\n",
    () => ({}),
    {
      limits,
    },
  );
  assert.deepEqual(r.served, ["error HEADERS_TOO_LARGE"]);
  assert.ok(r.out.startsWith("HTTP/1.1 431 "));
});

Deno.test("a rolled-back response leaves earlier pipelined responses intact", () => {
  const core = new ConnectionCore(options());
  feed(core, latin1(GET + GET));
  const a = core.nextRequest();
  assert.equal(a.kind, "request");
  core.responseHead(200, [["Content-Length", "2"]]);
  core.responseBody(latin1("ok"));
  core.responseEnd();
  assert.equal(core.finishExchange(false), "reuse");
  const b = core.nextRequest();
  assert.equal(b.kind, "request");
  core.responseHead(200, []);
  core.responseBody(latin1("partial"));
  assert.ok(core.rollbackResponse());
  core.queueError(new Error("boom"));
  const out = new TextDecoder().decode(concatBytes(...core.takeOutput()));
  assert.ok(out.startsWith("HTTP/1.1 200 OK\r\n"));
  assert.ok(out.includes("\r\n\r\nokHTTP/1.1 500 "));
  assert.ok(!out.includes("partial"));
});

Deno.test("a response whose bytes were taken for writing cannot be rolled back", () => {
  const core = new ConnectionCore(options());
  feed(core, latin1(GET));
  core.nextRequest();
  core.responseHead(200, []);
  core.responseBody(latin1("streamed"));
  core.takeOutput();
  assert.equal(core.rollbackResponse(), false);
});

Deno.test("response rules: invalid status and headers throw ResponseError with the rule", () => {
  const core = new ConnectionCore(options());
  feed(core, latin1(GET));
  core.nextRequest();
  const rules: Array<[() => void, string]> = [
    [() => core.responseHead(99, []), "status-range"],
    [() => core.responseHead(100, []), "status-range"],
    [() => core.responseHead(200, [["Bad Name", "x"]]), "header-name-token"],
    [() => core.responseHead(200, [["X", "a\r\nb"]]), "header-value-ctl"],
    [() => core.responseHead(200, [["Connection", "close"]]), "hop-by-hop"],
    [() => core.responseHead(200, [["Content-Length", "-1"]]), "content-length-digits"],
    [() => core.responseBody(latin1("x")), "response-order"],
  ];
  for (const [f, rule] of rules) {
    assert.throws(f, (e: unknown) => (e as { rule?: string }).rule === rule, rule);
  }
});

Deno.test("the cycle table: every state can close; unknown transitions are bugs", () => {
  for (const state of Object.keys(CYCLE) as Array<keyof typeof CYCLE>) {
    assert.ok(["closing", "closed"].includes(nextState(state, "close")), state);
    assert.equal(nextState(state, "closed"), "closed");
  }
  assert.throws(() => nextState("idle", "response-end"), CycleError);
  assert.throws(() => nextState("closing", "data"), CycleError);
  assert.throws(() => nextState("draining", "request"), CycleError);
});

Deno.test("the numeric cycle (step) agrees with the table for every state and event", () => {
  assert.deepEqual([...STATES].sort(), Object.keys(CYCLE).sort());
  let allowed = 0;
  for (let si = 0; si < STATES.length; si++) {
    for (let ei = 0; ei < EVENTS.length; ei++) {
      const expected = CYCLE[STATES[si]][EVENTS[ei]];
      if (expected === undefined) {
        assert.throws(() => step(si, ei), CycleError, `${STATES[si]} on ${EVENTS[ei]}`);
      } else {
        assert.equal(STATES[step(si, ei)], expected, `${STATES[si]} on ${EVENTS[ei]}`);
        allowed++;
      }
    }
  }
  assert.equal(allowed, 21); // the transitions CYCLE lists
});

/** One request answered with `responseHead(status, headers, "", length)` and `body`. */
function answerWithLength(
  method: string,
  status: number,
  headers: Array<[string, string]>,
  length: number,
  body: string,
): string {
  const core = new ConnectionCore(options());
  feed(core, latin1(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`));
  assert.equal(core.nextRequest().kind, "request");
  core.responseHead(status, headers, "", length);
  if (body !== "") core.responseBody(latin1(body));
  core.responseEnd();
  const verdict = core.finishExchange(false);
  assert.equal(verdict, core.response.overrun ? "close" : "reuse");
  return new TextDecoder("latin1").decode(concatBytes(...core.takeOutput()));
}

Deno.test("responseHead's known length is the Content-Length unless the app declared one", () => {
  assert.equal(
    answerWithLength("GET", 200, [["Content-Type", "text/plain"]], 5, "hello"),
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: ${DATE}\r\n\r\nhello`,
  );
  // HEAD: the same head as GET, no body.
  assert.equal(
    answerWithLength("HEAD", 200, [], 5, ""),
    `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: ${DATE}\r\n\r\n`,
  );
  // The app's own Content-Length wins; the known length is not added a second time.
  assert.equal(
    answerWithLength("GET", 200, [["content-length", "2"]], 7, "ok"),
    `HTTP/1.1 200 OK\r\ncontent-length: 2\r\nDate: ${DATE}\r\n\r\nok`,
  );
  // A status that forbids Content-Length gets none.
  assert.equal(
    answerWithLength("GET", 204, [], 0, ""),
    `HTTP/1.1 204 No Content\r\nDate: ${DATE}\r\n\r\n`,
  );
  // Bytes beyond the known length are dropped (it frames the body like a declared one).
  // (the head is already queued when the overrun is seen; the connection then closes).
  assert.equal(
    answerWithLength("GET", 200, [], 2, "toolong"),
    `HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: ${DATE}\r\n\r\nto`,
  );
});
