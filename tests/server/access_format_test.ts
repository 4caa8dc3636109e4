/**
 * gunicorn-style access log templates (`--access-log-format '%(h)s "%(r)s" %(s)s ...'`): every
 * atom on a known record, request headers by name, Basic-auth users, escaping, `%%`, errors for
 * unknown atoms at start (exit 2), a real server writing the template with the true body size, and
 * the logfmt preset (quoting that no header can break).
 */
import assert from "node:assert/strict";
import { compileAccessFormat } from "../../server/access_format.ts";
import { ConfigError, parseCli } from "../../server/config.ts";
import { type AccessRecord, formatLogfmt, logfmtValue } from "../../server/log.ts";
import { startLsbaws } from "../_support/proc.ts";

const GUNICORN_DEFAULT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

function record(over: Partial<AccessRecord> = {}): AccessRecord {
  return {
    remote: "203.0.113.9",
    method: "GET",
    target: "/shop/items?page=2&q=a%20b",
    version: "HTTP/1.1",
    status: 200,
    bytesIn: 0,
    bytesOut: 180,
    bodyBytes: 42,
    headers: [
      ["host", "shop.example"],
      ["x-forwarded-for", "198.51.100.1"],
      ["x-forwarded-for", "10.0.0.1"],
      ["authorization", `Basic ${btoa("alice:s3cret:with:colons")}`],
    ],
    durationMs: 1234.5678,
    requestId: "abc",
    referer: "https://ref.example/",
    userAgent: "curl/8.0",
    time: Date.UTC(2026, 9, 10, 13, 55, 36),
    ...over,
  };
}

Deno.test("gunicorn's default template gives gunicorn's line", () => {
  const line = compileAccessFormat(GUNICORN_DEFAULT)(record(), 4242);
  assert.equal(
    line,
    '203.0.113.9 - alice [10/Oct/2026:13:55:36 +0000] "GET /shop/items?page=2&q=a%20b HTTP/1.1" 200 42 ' +
      '"https://ref.example/" "curl/8.0"\n',
  );
});

Deno.test("every atom on a known record", () => {
  const atoms = "h l u t r m U q H s B b f a T M D L p".split(" ");
  const line = compileAccessFormat(atoms.map((a) => `${a}=%(${a})s`).join("|"))(record(), 77);
  assert.equal(
    line,
    [
      "h=203.0.113.9",
      "l=-",
      "u=alice",
      "t=[10/Oct/2026:13:55:36 +0000]",
      "r=GET /shop/items?page=2&q=a%20b HTTP/1.1",
      "m=GET",
      "U=/shop/items",
      "q=page=2&q=a%20b",
      "H=HTTP/1.1",
      "s=200",
      "B=42",
      "b=42",
      "f=https://ref.example/",
      "a=curl/8.0",
      "T=1",
      "M=1235",
      "D=1234568",
      "L=1.234568",
      "p=<77>",
    ].join("|") + "\n",
  );
});

Deno.test("request headers by name (any case), repeats joined, '-' when absent; b is '-' for no body", () => {
  const fmt = compileAccessFormat(
    "%({X-Forwarded-For}i)s %({host}i)s %({X-Missing}i)s %(b)s %(B)s",
  );
  assert.equal(
    fmt(record({ bodyBytes: 0 }), 1),
    "198.51.100.1, 10.0.0.1 shop.example - - 0\n",
  );
});

Deno.test("no user without a well-formed Basic header; empty referer and agent are '-'", () => {
  const fmt = compileAccessFormat("%(u)s %(f)s %(a)s");
  for (const auth of ["Bearer abc", "Basic !!!", `Basic ${btoa("nocolon")}`]) {
    const r = record({ referer: "", userAgent: "", headers: [["authorization", auth]] });
    assert.equal(fmt(r, 1), "- - -\n", auth);
  }
});

Deno.test("request values are escaped, %% is a percent sign, other text is kept", () => {
  const fmt = compileAccessFormat('100%% "%(a)s" %({x-evil}i)s [%(m)s]');
  const r = record({
    userAgent: 'bad"agent\nINJECTED 200',
    method: "GE\\T",
    headers: [["x-evil", "a\tb\u00ff"]],
  });
  assert.equal(fmt(r, 1), '100% "bad\\"agent\\x0aINJECTED 200" a\\x09b\\xff [GE\\\\T]\n');
});

Deno.test("an unknown atom is a usage error naming it and the known ones", () => {
  assert.throws(
    () => parseCli(["--access-log-format", "%(h)s %(x)s", "app.ts"], {}),
    (err: unknown) =>
      err instanceof ConfigError &&
      /unknown atom %\(x\)s; known: h l u t r m U q H s B b f a T M D L p \{Header-Name\}i/.test(
        err.message,
      ),
  );
  assert.throws(
    () => parseCli(["--access-log-format", "%({bad name}i)s", "app.ts"], {}),
    ConfigError,
  );
  for (const ok of ["common", "json", GUNICORN_DEFAULT, "plain text"]) {
    assert.equal(parseCli(["--access-log-format", ok, "app.ts"], {}).kind, "run", ok);
  }
});

/** lsbaws serving the ops fixture with its access log on stdout in `format`. */
function serverLogging(format: string) {
  return startLsbaws([
    "-p",
    "0",
    "--access-log",
    "-",
    "--access-log-format",
    format,
    "tests/fixtures/apps/ops.ts:app",
  ]);
}

Deno.test("a real server writes a template line per request with the body size it sent", async () => {
  const p = await serverLogging('%(h)s "%(r)s" %(s)s %(B)s %({X-Test}i)s %(p)s');
  let size = 0;
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/env?x=1`, {
      headers: { "X-Test": "t-1", Connection: "close" },
    });
    size = (await res.arrayBuffer()).byteLength;
    assert.ok(size > 0);
    await p.waitFor(() => p.out.some((l) => l.includes('"GET /env?x=1 HTTP/1.1"')), "the line");
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  const line = p.out.find((l) => l.includes('"GET /env?x=1 HTTP/1.1"'));
  assert.equal(line, `127.0.0.1 "GET /env?x=1 HTTP/1.1" 200 ${size} t-1 <${p.pid}>`);
});

/** Parses a logfmt line the way logfmt readers do: bare or double-quoted values with escapes. */
function parseLogfmt(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^ "=]+))(?: |$)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(line)) !== null) {
    out[m[1]] = m[2] !== undefined ? JSON.parse(`"${m[2]}"`) : m[3];
    end = re.lastIndex;
  }
  assert.equal(end, line.length, `unparsed logfmt tail: ${line.slice(end)}`);
  return out;
}

Deno.test("logfmt: bare values stay bare; spaces, quotes, '=' and control characters are quoted", () => {
  assert.equal(logfmtValue("/shop/items?page=2"), '"/shop/items?page=2"'); // '=' would add a key
  assert.equal(logfmtValue("curl/8.1"), "curl/8.1");
  assert.equal(logfmtValue(""), '""');
  assert.equal(logfmtValue('evil" status=200'), '"evil\\" status=200"');
  assert.equal(logfmtValue("a\nb\tc\x00\x9b\\"), '"a\\nb\\tc\\u0000\\u009b\\\\"');
  const line = formatLogfmt(record({ userAgent: 'x" status=500 y', referer: "" }), 4242);
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
  const kv = parseLogfmt(line.slice(0, -1));
  assert.equal(kv.status, "200", "a header cannot add or replace a key");
  assert.equal(kv.user_agent, 'x" status=500 y');
  assert.equal(kv.target, "/shop/items?page=2&q=a%20b");
  assert.equal(kv.duration_ms, "1234.568");
  assert.equal(kv.referer, "");
  assert.equal(kv.pid, "4242");
  assert.deepEqual(Object.keys(kv), [
    "time",
    "remote",
    "method",
    "target",
    "version",
    "status",
    "bytes_in",
    "bytes_out",
    "duration_ms",
    "request_id",
    "referer",
    "user_agent",
    "pid",
  ]);
});

Deno.test("a real server writes logfmt lines with --access-log-format logfmt", async () => {
  const p = await serverLogging("logfmt");
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/env?x=1`, {
      headers: { "X-Request-ID": "req-7", Connection: "close" },
    });
    await res.arrayBuffer();
    await p.waitFor(() => p.out.some((l) => l.includes("request_id=req-7")), "the line");
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  const kv = parseLogfmt(p.out.find((l) => l.includes("request_id=req-7"))!);
  assert.equal(kv.method, "GET");
  assert.equal(kv.target, "/env?x=1");
  assert.equal(kv.status, "200");
  assert.equal(kv.remote, "127.0.0.1");
  assert.equal(kv.pid, String(p.pid));
});
