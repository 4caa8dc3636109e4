/**
 * Access and error logs with real processes: JSON access lines from two workers sharing one
 * stdout pipe (whole lines, one per request, with duration, status, bytes, worker pid and request
 * id), the common format to a file, and error-log levels.
 */
import assert from "node:assert/strict";
import { runLoad } from "../_support/load.ts";
import { startLsbaws } from "../_support/proc.ts";
import { createLogger, detachedLog, fdSink, formatErrorLine } from "../../server/log.ts";

const APP = "tests/fixtures/apps/ops.ts:app";
/** Generated ids: a random per-process prefix and a counter (server/http/request_id.ts). */
const MADE_ID = /^[0-9a-f]{8}-[0-9a-z]+$/;

Deno.test("JSON access log from two workers: one whole line per request, ids propagated or made", async () => {
  const p = await startLsbaws([
    "-w",
    "2",
    "-p",
    "0",
    "--access-log",
    "-",
    "--access-log-format",
    "json",
    APP,
  ]);
  let workers: number[] = [];
  try {
    await p.waitFor(
      () => p.workers().length === 2 && p.err.filter((l) => / is ready/.test(l)).length === 2,
      "2 workers",
    );
    workers = p.workers();
    const url = `http://127.0.0.1:${p.port()}/env`;
    const [a, b] = await Promise.all([
      runLoad({ url, total: 600, concurrency: 8, headers: { "X-Request-ID": "trace-abc.1" } }).done,
      runLoad({ url, total: 600, concurrency: 8, mode: "close" }).done,
    ]);
    assert.equal(a.ok + b.ok, 1200);
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  const lines = p.out.filter((l) => !l.startsWith("lsbaws "));
  assert.equal(lines.length, 1200, "one line per request");
  const recs = lines.map((l) => JSON.parse(l));
  const propagated = recs.filter((r) => r.request_id === "trace-abc.1");
  assert.equal(propagated.length, 600);
  const made = recs.filter((r) => r.request_id !== "trace-abc.1");
  assert.ok(made.every((r) => MADE_ID.test(r.request_id)), "generated ids have the made-up shape");
  assert.equal(new Set(made.map((r) => r.request_id)).size, 600, "generated ids are unique");
  for (const r of recs) {
    assert.equal(r.status, 200);
    assert.equal(r.method, "GET");
    assert.equal(r.target, "/env");
    assert.equal(r.bytes_in, 0);
    assert.ok(r.bytes_out > 100, "bytes out include the head");
    assert.ok(typeof r.duration_ms === "number" && r.duration_ms >= 0);
    assert.ok(workers.includes(r.pid), `pid ${r.pid} is a worker`);
  }
  assert.equal(new Set(recs.map((r) => r.pid)).size, 2, "both workers logged");
});

Deno.test("common access log to a file: request line, status, bytes in/out, duration, id, pid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-log-" });
  const file = `${dir}/access.log`;
  const p = await startLsbaws(["-p", "0", "--access-log", file, APP]);
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/env?x=1`, {
      client,
      method: "POST",
      body: "hello",
      headers: { "X-Request-ID": "abc-123", "User-Agent": 'evil"agent' },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    client.close(); // no idle keep-alive connection for the stop to wait for
    await p.stop();
  }
  const text = await Deno.readTextFile(file);
  await Deno.remove(dir, { recursive: true });
  const line = text.trim();
  assert.match(
    line,
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "POST \/env\?x=1 HTTP\/1\.1" 200 \d+ /,
  );
  assert.match(line, / "evil\\"agent" /, "quotes in fields are escaped");
  assert.match(line, / in=5 /);
  assert.match(line, / \d+\.\d{3}ms /);
  assert.match(line, / rid=abc-123 /);
  assert.match(line, new RegExp(` pid=${p.pid}$`));
});

Deno.test("--log-level filters the error log", async () => {
  for (const level of ["info", "warning"]) {
    const p = await startLsbaws(["-p", "0", "--log-level", level, APP]);
    p.signal("SIGHUP"); // a warning in a single process
    await p.waitForErr(/\[WARNING\] SIGHUP ignored/);
    const s = await p.stop();
    assert.equal(s.code, 0);
    const info = p.err.filter((l) => /\[INFO\]/.test(l));
    if (level === "info") assert.ok(info.some((l) => /SIGTERM: shutting down gracefully/.test(l)));
    else assert.deepEqual(info, []);
    for (const l of p.err) assert.match(l, /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] \[\d+\] \[[A-Z]+\] /);
  }
});

Deno.test("a log sink whose reader is gone drops output instead of throwing", () => {
  let calls = 0;
  const sink = fdSink({
    writeSync(): number {
      calls++;
      throw new Deno.errors.BrokenPipe("reader gone");
    },
  });
  sink.write("first line\n");
  sink.write("second line\n");
  assert.equal(calls, 1);
});

Deno.test("detachedLog: logger.log as one shared function, callable on its own", () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    accessLog: "",
    accessLogFormat: "common",
    errorSink: { write: (text) => void lines.push(text) },
  });
  const log = detachedLog(logger);
  assert.equal(detachedLog(logger), log, "one function per logger");
  log("error", "boom");
  log("debug", "below the level");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /\[ERROR\] boom/);
});

Deno.test("error-log formats: text as before; json and logfmt keep a stack trace on one line", () => {
  const t = Date.UTC(2026, 11, 7, 12, 0, 0, 5);
  const msg = 'boom: "quoted"\n    at f (file:///app.ts:1:2)\n    at g (file:///app.ts:3:4)';
  assert.equal(
    formatErrorLine("text", t, 42, "error", "plain message"),
    "[2026-12-07T12:00:00.005Z] [42] [ERROR] plain message\n",
  );
  const json = formatErrorLine("json", t, 42, "error", msg);
  assert.equal(json.split("\n").length, 2, "one line");
  assert.deepEqual(JSON.parse(json), {
    time: "2026-12-07T12:00:00.005Z",
    pid: 42,
    level: "error",
    message: msg,
  });
  assert.equal(
    formatErrorLine("logfmt", t, 42, "warning", msg),
    'time=2026-12-07T12:00:00.005Z pid=42 level=warning message="boom: \\"quoted\\"\\n    at f ' +
      '(file:///app.ts:1:2)\\n    at g (file:///app.ts:3:4)"\n',
  );
  assert.equal(
    formatErrorLine("logfmt", t, 1, "info", "ready"),
    `time=2026-12-07T12:00:00.005Z pid=1 level=info message=ready\n`,
  );
});

Deno.test("--error-log-format json: every stderr line of the supervisor and both workers is JSON", async () => {
  const p = await startLsbaws([
    "-w",
    "2",
    "-p",
    "0",
    "--error-log-format",
    "json",
    "--log-level",
    "debug",
    APP,
  ]);
  let workers: number[] = [];
  try {
    await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "2 workers");
    workers = p.workers();
    // A worker's own lines (its graceful stop) come through the supervisor's stderr too.
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  assert.ok(p.err.length > 6, p.err.join("\n"));
  const recs = p.err.map((l) => JSON.parse(l));
  for (const r of recs) {
    assert.deepEqual(Object.keys(r), ["time", "pid", "level", "message"]);
    assert.match(r.time, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.ok(["debug", "info", "warning", "error", "critical"].includes(r.level));
  }
  const pids = new Set(recs.map((r) => r.pid));
  assert.ok(pids.has(p.pid), "the supervisor's lines");
  for (const w of workers) assert.ok(pids.has(w), `worker ${w}'s lines`);
});
