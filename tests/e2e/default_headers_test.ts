/**
 * `--header NAME:VALUE` and `--no-date-header` (uvicorn's) on a real server, on the backend the
 * suite runs: the default lines reach the app's responses, the canned ones (an app error's 500, a
 * malformed request's 400), lsbaws's own health and metrics answers and static files (a file and
 * a 404), each once and with no Date line; the
 * default server keeps Date and adds nothing. From the command line a bad value is exit 2.
 */
import assert from "node:assert/strict";
import { header, roundTrip } from "../_support/raw_client.ts";
import { startApp } from "../_support/server.ts";
import { startLsbaws } from "../_support/proc.ts";

const DEFAULTS = ["X-Frame-Options: DENY", "Strict-Transport-Security:max-age=63072000"];

Deno.test("--header lines and --no-date-header on app, error, protocol-error, health, metrics and static responses", async () => {
  const srv = await startApp("apps/error.ts:app", {
    header: DEFAULTS,
    dateHeader: false,
    healthPath: "/healthz",
    metricsPath: "/metrics",
    staticMounts: ["/files=apps"],
  });
  try {
    const requests: Array<[string, number]> = [
      ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200],
      ["GET /before HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 500],
      ["GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200],
      ["GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200],
      ["GET /files/hello.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200],
      ["GET /files/nope.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404],
      ["GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400],
    ];
    for (const [request, status] of requests) {
      const { responses } = await roundTrip(srv.port, request, { untilClose: true });
      assert.equal(responses.length, 1, request);
      const res = responses[0];
      assert.equal(res.status, status, request);
      assert.equal(header(res, "date"), undefined, `${status}: no Date`);
      assert.equal(header(res, "server"), "lsbaws");
      const names = res.headers.map(([n]) => n);
      assert.equal(names.filter((n) => n === "x-frame-options").length, 1, `${status}: once`);
      assert.equal(header(res, "x-frame-options"), "DENY");
      assert.equal(header(res, "strict-transport-security"), "max-age=63072000");
    }
  } finally {
    await srv.close();
  }
});

Deno.test("by default: Date is sent and no other header is added", async () => {
  const srv = await startApp("apps/error.ts:app");
  try {
    const { responses } = await roundTrip(
      srv.port,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      {
        untilClose: true,
      },
    );
    assert.match(
      header(responses[0], "date") ?? "",
      /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
    );
    assert.equal(header(responses[0], "x-frame-options"), undefined);
  } finally {
    await srv.close();
  }
});

Deno.test("--header from the command line reaches the response; a bad one is exit 2", async () => {
  const p = await startLsbaws(["-p", "0", "--header", "X-Team: web", "apps/hello.ts:app"]);
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/`, { headers: { Connection: "close" } });
    await res.body?.cancel();
    assert.equal(res.headers.get("x-team"), "web");
  } finally {
    await p.stop();
  }
  const bad = await startLsbaws(["--header", "Server: mine", "apps/hello.ts:app"], {
    waitListening: false,
  });
  const status = await bad.status;
  await bad.stop();
  assert.equal(status.code, 2, bad.err.join("\n"));
  assert.match(bad.err.join("\n"), /--header 'Server: mine': Server is the server's own/);
});
