/**
 * Response side: header and status validation, IMF-fixdate, head encoding, chunk headers, and the
 * pre-encoded constants.
 */
import assert from "node:assert/strict";
import {
  checkResponseHeader,
  checkStatus,
  CONTINUE_RESPONSE,
  CRLF_BYTES,
  encodeChunkHeader,
  encodeResponseHead,
  HOP_BY_HOP,
  LAST_CHUNK,
  type ResponseHeadParts,
  validateResponseHead,
  withContentLength,
  writeResponseHead,
} from "../../../server/http/response_head.ts";
import { ResponseError } from "../../../server/http/errors.ts";
import { httpDate } from "../../../server/http/http_date.ts";
import { latin1, mulberry32 } from "./_helpers.ts";

const text = (b: Uint8Array) => String.fromCharCode(...b);

// deno-fmt-ignore
const HEADER_CASES: Array<[string, string, string | null]> = [
  ["Content-Type", "text/plain; charset=utf-8", null],
  ["X-Custom", "", null],
  ["X-Tab", "a\tb", null],
  ["X-Latin1", "caf\xe9 \xff", null],
  ["Set-Cookie", "a=b; Path=/; HttpOnly", null],
  ["Content-Length", "5", null],
  ["!#$%&'*+-.^_`|~09", "v", null],
  ["", "v", "header-name-token"],
  ["X Y", "v", "header-name-token"],
  ["X:Y", "v", "header-name-token"],
  ["X\r\nY", "v", "header-name-token"],
  ["X-\xe9", "v", "header-name-token"],
  ["X-\u0100", "v", "header-name-token"],
  ["X", "a\r\nSet-Cookie: evil", "header-value-ctl"],
  ["X", "a\rb", "header-value-ctl"],
  ["X", "a\nb", "header-value-ctl"],
  ["X", "a\0b", "header-value-ctl"],
  ["X", "\x01", "header-value-ctl"],
  ["X", "\x1f", "header-value-ctl"],
  ["X", "\x7f", "header-value-ctl"],
  ["X", "\u0100", "header-value-latin1"],
  ["X", "\u20ac", "header-value-latin1"],
  ["X", "\ud83d\ude00", "header-value-latin1"],
  ["Connection", "close", "hop-by-hop"],
  ["connection", "keep-alive", "hop-by-hop"],
  ["Keep-Alive", "timeout=5", "hop-by-hop"],
  ["Transfer-Encoding", "chunked", "hop-by-hop"],
  ["TRANSFER-ENCODING", "chunked", "hop-by-hop"],
  ["Upgrade", "websocket", "hop-by-hop"],
  ["TE", "trailers", "hop-by-hop"],
  ["Trailer", "X", "hop-by-hop"],
  ["Proxy-Authenticate", "Basic", "hop-by-hop"],
  ["Proxy-Authorization", "Basic x", "hop-by-hop"],
  ["Proxy-Connection", "close", "hop-by-hop"],
];

Deno.test("checkResponseHeader accepts valid headers and names the broken rule otherwise", () => {
  for (const [name, value, want] of HEADER_CASES) {
    assert.equal(checkResponseHeader(name, value), want, JSON.stringify([name, value]));
  }
});

Deno.test("checkResponseHeader checks the name before the value and the value before hop-by-hop", () => {
  assert.equal(checkResponseHeader("Bad Name", "\r"), "header-name-token");
  assert.equal(checkResponseHeader("Connection", "\r"), "header-value-ctl");
});

Deno.test("HOP_BY_HOP lists lowercase names", () => {
  for (const name of HOP_BY_HOP) assert.equal(name, name.toLowerCase());
});

// deno-fmt-ignore
const STATUS_CASES: Array<[number, string, string | null]> = [
  [100, "Continue", null], [200, "OK", null], [299, "", null], [999, "Custom", null],
  [404, "Not\tFound", null], [200, "D\xe9j\xe0 vu", null],
  [99, "", "status-range"], [1000, "", "status-range"], [0, "", "status-range"],
  [-200, "", "status-range"], [200.5, "", "status-range"], [NaN, "", "status-range"],
  [Infinity, "", "status-range"],
  [200, "OK\r\nX: y", "reason-ctl"], [200, "O\nK", "reason-ctl"], [200, "\0", "reason-ctl"],
  [200, "\x7f", "reason-ctl"], [200, "\u0100", "reason-ctl"],
];

Deno.test("checkStatus accepts 100-999 with a CTL-free latin-1 reason", () => {
  for (const [status, reason, want] of STATUS_CASES) {
    assert.equal(checkStatus(status, reason), want, JSON.stringify([status, reason]));
  }
});

Deno.test("httpDate formats IMF-fixdate (RFC 9110 §5.6.7)", () => {
  assert.equal(httpDate(784111777000), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(httpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  assert.equal(httpDate(Date.UTC(2000, 1, 29, 23, 59, 59, 999)), "Tue, 29 Feb 2000 23:59:59 GMT");
  assert.equal(httpDate(Date.UTC(2038, 0, 19, 3, 14, 8)), "Tue, 19 Jan 2038 03:14:08 GMT");
  assert.equal(httpDate(Date.UTC(2024, 11, 31, 1, 2, 3)), "Tue, 31 Dec 2024 01:02:03 GMT");
});

Deno.test("httpDate agrees with Date's UTC fields from 1601 to 9999, leap days and century years included", () => {
  const viaDate = (ms: number) => {
    const d = new Date(ms);
    const p = (n: number) => String(n).padStart(2, "0");
    return `${"SunMonTueWedThuFriSat".substr(d.getUTCDay() * 3, 3)}, ${p(d.getUTCDate())} ${
      "JanFebMarAprMayJunJulAugSepOctNovDec".substr(d.getUTCMonth() * 3, 3)
    } ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${
      p(d.getUTCSeconds())
    } GMT`;
  };
  const from = Date.UTC(1601, 0, 1);
  const to = Date.UTC(9999, 11, 31, 23, 59, 59);
  const instants = [
    from,
    to,
    -1,
    Date.UTC(1900, 1, 28),
    Date.UTC(1900, 2, 1),
    Date.UTC(2100, 1, 28),
  ];
  // Every day of 1999-2001 at a moving time of day, then a seeded sample of the whole range.
  for (let day = Date.UTC(1999, 0, 1), i = 0; day < Date.UTC(2002, 0, 1); day += 86_400_000, i++) {
    instants.push(day + ((i * 7_919_000) % 86_400_000));
  }
  let seed = 12345;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    instants.push(from + Math.floor((seed / 2147483648) * (to - from)));
  }
  for (const ms of instants) assert.equal(httpDate(ms), viaDate(ms), `at ${ms}`);
});

Deno.test("httpDate round-trips through Date.parse for random instants", () => {
  const rand = mulberry32(0x5eed);
  const re =
    /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;
  for (let i = 0; i < 500; i++) {
    const ms = Math.floor(rand() * 4102444800) * 1000; // 1970 .. 2100, whole seconds
    const s = httpDate(ms);
    assert.match(s, re);
    assert.equal(Date.parse(s), ms, s);
    assert.equal(s, new Date(ms).toUTCString(), "matches toUTCString");
  }
});

function parts(over: Partial<ResponseHeadParts> = {}): ResponseHeadParts {
  return {
    status: 200,
    headers: [],
    date: "Sun, 06 Nov 1994 08:49:37 GMT",
    server: "",
    framing: "length",
    connection: "",
    ...over,
  };
}

Deno.test("encodeResponseHead writes the status line, headers, Date and the empty line", () => {
  const head = encodeResponseHead(parts({
    headers: [["Content-Type", "text/plain"], ["Content-Length", "5"]],
  }));
  assert.equal(
    text(head),
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n" +
      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
  );
});

Deno.test("encodeResponseHead keeps the app's Date and Server in any case", () => {
  const head = text(encodeResponseHead(parts({
    headers: [["date", "Mon, 07 Nov 1994 00:00:00 GMT"], ["SERVER", "app"]],
    server: "lsbaws",
  })));
  assert.equal(head.match(/date:/gi)?.length, 1);
  assert.equal(head.match(/server:/gi)?.length, 1);
  assert.ok(head.includes("SERVER: app\r\n"));
});

Deno.test("encodeResponseHead adds Server only when configured", () => {
  assert.ok(text(encodeResponseHead(parts({ server: "lsbaws" }))).includes("Server: lsbaws\r\n"));
  assert.ok(!text(encodeResponseHead(parts())).includes("Server:"));
});

Deno.test("encodeResponseHead adds Transfer-Encoding only for chunked framing", () => {
  const te = "Transfer-Encoding: chunked\r\n";
  assert.ok(text(encodeResponseHead(parts({ framing: "chunked" }))).includes(te));
  for (const framing of ["none", "length", "close"] as const) {
    assert.ok(!text(encodeResponseHead(parts({ framing }))).includes("Transfer-Encoding"));
  }
});

Deno.test("encodeResponseHead writes the Connection header the server chose", () => {
  assert.ok(
    text(encodeResponseHead(parts({ connection: "close" }))).includes("Connection: close\r\n"),
  );
  assert.ok(
    text(encodeResponseHead(parts({ connection: "keep-alive" }))).includes(
      "Connection: keep-alive\r\n",
    ),
  );
  assert.ok(!text(encodeResponseHead(parts())).includes("Connection"));
});

Deno.test("encodeResponseHead uses the standard reason unless one is given", () => {
  assert.ok(
    text(encodeResponseHead(parts({ status: 404 }))).startsWith("HTTP/1.1 404 Not Found\r\n"),
  );
  assert.ok(
    text(encodeResponseHead(parts({ status: 404, reason: "" }))).startsWith(
      "HTTP/1.1 404 Not Found\r\n",
    ),
  );
  assert.ok(
    text(encodeResponseHead(parts({ status: 200, reason: "Fine" }))).startsWith(
      "HTTP/1.1 200 Fine\r\n",
    ),
  );
  assert.ok(
    text(encodeResponseHead(parts({ status: 299 }))).startsWith("HTTP/1.1 299 Unknown\r\n"),
  );
});

Deno.test("encodeResponseHead appends server-owned extra lines before the empty line", () => {
  const head = text(encodeResponseHead(parts({
    status: 101,
    connection: "",
    extra: "Upgrade: websocket\r\nConnection: Upgrade\r\n",
  })));
  assert.ok(head.endsWith("Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
});

Deno.test("encodeResponseHead encodes values as latin-1 bytes", () => {
  const head = encodeResponseHead(parts({ headers: [["X", "caf\xe9\xff"]] }));
  const at = text(head).indexOf("X: ");
  assert.deepStrictEqual(head.subarray(at + 3, at + 8), latin1("caf\xe9\xff"));
});

Deno.test("encodeChunkHeader writes lowercase hex sizes followed by CRLF", () => {
  // deno-fmt-ignore
  const cases: Array<[number, string]> = [
    [1, "1"], [9, "9"], [10, "a"], [15, "f"], [16, "10"], [255, "ff"], [256, "100"],
    [4096, "1000"], [65535, "ffff"], [2 ** 32, "100000000"], [2 ** 32 + 1, "100000001"],
    [2 ** 53 - 1, "1fffffffffffff"],
  ];
  for (const [n, hex] of cases) assert.equal(text(encodeChunkHeader(n)), `${hex}\r\n`, `${n}`);
});

Deno.test("encodeChunkHeader agrees with toString(16) for random sizes", () => {
  const rand = mulberry32(42);
  for (let i = 0; i < 1000; i++) {
    const n = 1 + Math.floor(rand() ** 4 * Number.MAX_SAFE_INTEGER);
    assert.equal(text(encodeChunkHeader(n)), `${n.toString(16)}\r\n`);
  }
});

Deno.test("the pre-encoded constants hold the exact bytes", () => {
  assert.equal(text(CRLF_BYTES), "\r\n");
  assert.equal(text(LAST_CHUNK), "0\r\n\r\n");
  assert.equal(text(CONTINUE_RESPONSE), "HTTP/1.1 100 Continue\r\n\r\n");
});

Deno.test("checkResponseHeader: a value that passed once does not excuse a bad one later", () => {
  assert.equal(checkResponseHeader("X-Cache-Probe", "ok"), null);
  assert.equal(checkResponseHeader("X-Cache-Probe", "ok"), null); // the cached verdict
  assert.equal(checkResponseHeader("X-Cache-Probe", "a\r\nb"), "header-value-ctl");
  assert.equal(checkResponseHeader("X-Cache-Probe", "\u0100"), "header-value-latin1");
  assert.equal(checkResponseHeader("X-Cache-Probe", "ok"), null);
  // A hop-by-hop name is refused whatever its value, also the empty one, every time.
  for (let i = 0; i < 3; i++) {
    assert.equal(checkResponseHeader("Connection", ""), "hop-by-hop");
    assert.equal(checkResponseHeader("Upgrade", "websocket"), "hop-by-hop");
  }
});

Deno.test("writeResponseHead: a header line reused from its cache is byte-identical; a new value is written", () => {
  const parts = (value: string): ResponseHeadParts => ({
    status: 200,
    headers: [["X-Line-Cache", value], ["X-Other", "1"]],
    date: "Thu, 01 Jan 2026 00:00:00 GMT",
    server: "",
    framing: "length",
    connection: "",
    length: 3,
  });
  const first = text(encodeResponseHead(parts("same")));
  assert.equal(
    first,
    "HTTP/1.1 200 OK\r\nX-Line-Cache: same\r\nX-Other: 1\r\nContent-Length: 3\r\n" +
      "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
  );
  // The second and third time the line comes from the cache.
  assert.equal(text(encodeResponseHead(parts("same"))), first);
  assert.equal(text(encodeResponseHead(parts("same"))), first);
  // A different value is never served from the stale line, nor is the old one after it.
  assert.equal(text(encodeResponseHead(parts("other"))), first.replace("same", "other"));
  assert.equal(text(encodeResponseHead(parts("same"))), first);
  // Values are latin-1: a repeated one with code units 0x80-0xFF keeps them.
  const latin = first.replace("same", "caf\xe9");
  for (let i = 0; i < 3; i++) assert.equal(text(encodeResponseHead(parts("caf\xe9"))), latin);
});

Deno.test("withContentLength: appends a known length unless one is declared", () => {
  const h: Array<[string, string]> = [["Content-Type", "text/plain"]];
  assert.deepEqual(withContentLength(h, 5), [["Content-Type", "text/plain"], [
    "Content-Length",
    "5",
  ]]);
  assert.deepEqual(h, [["Content-Type", "text/plain"]], "the input list is not changed");
  assert.equal(withContentLength(h, -1), h);
  const declared: Array<[string, string]> = [["content-length", "2"]];
  assert.equal(withContentLength(declared, 7), declared, "the app's own value wins");
});

/** Runs `writeResponseHead` into a sink that records its bytes and how they were pushed. */
Deno.test("encodeResponseHead: default lines follow Date and Server, also when the app sent them", () => {
  const defaults = "X-Frame-Options: DENY\r\nX-Team: web\r\n";
  assert.equal(
    text(encodeResponseHead(parts({ server: "lsbaws", defaults, length: 0 }))),
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n" +
      "Server: lsbaws\r\nX-Frame-Options: DENY\r\nX-Team: web\r\n\r\n",
  );
  const cases: Array<[Array<[string, string]>, string]> = [
    [[["Server", "app"]], "Server: app\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"],
    [
      [["Date", "Mon, 07 Nov 1994 00:00:00 GMT"]],
      "Date: Mon, 07 Nov 1994 00:00:00 GMT\r\nServer: lsbaws\r\n",
    ],
    [[["Date", "x"], ["Server", "app"]], "Date: x\r\nServer: app\r\n"],
    [
      [["X-Frame-Options", "SAMEORIGIN"]],
      "X-Frame-Options: SAMEORIGIN\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: lsbaws\r\n",
    ],
  ];
  for (const [headers, lines] of cases) {
    assert.equal(
      text(encodeResponseHead(parts({ headers, server: "lsbaws", defaults }))),
      `HTTP/1.1 200 OK\r\n${lines}${defaults}\r\n`,
      JSON.stringify(headers),
    );
  }
});

Deno.test("encodeResponseHead: an empty date writes no Date line", () => {
  assert.equal(
    text(encodeResponseHead(parts({ date: "", server: "s" }))),
    "HTTP/1.1 200 OK\r\nServer: s\r\n\r\n",
  );
  assert.equal(
    text(encodeResponseHead(parts({ date: "", headers: [["Server", "app"]] }))),
    "HTTP/1.1 200 OK\r\nServer: app\r\n\r\n",
  );
});

function writeRecorded(p: ResponseHeadParts): { text: string; n: number; pushes: number } {
  let out = "";
  let pushes = 0;
  const n = writeResponseHead({
    pushAscii(s: string) {
      out += s;
      pushes++;
    },
    pushBytes(b: Uint8Array) {
      out += text(b);
      pushes++;
    },
  }, p);
  return { text: out, n, pushes };
}

Deno.test("writeResponseHead: a head repeated with the same parts is written whole from one copy", () => {
  const p = (): ResponseHeadParts =>
    parts({ headers: [["Content-Type", "text/plain"], ["X-Memo", "1"]], length: 13 });
  const expected = text(encodeResponseHead(p()));
  for (let i = 0; i < 4; i++) {
    const r = writeRecorded(p()); // A fresh parts object and header list every time, as apps do.
    assert.equal(r.text, expected, `write ${i + 1}`);
    assert.equal(r.n, expected.length, `write ${i + 1}: the byte count`);
    // From the second write on, the head is one push of the encoded whole.
    if (i >= 1) assert.equal(r.pushes, 1, `write ${i + 1}: pushes`);
  }
});

Deno.test("writeResponseHead: any part that differs from the previous head is written anew", () => {
  const base: ResponseHeadParts = parts({
    status: 200,
    headers: [["Content-Type", "text/plain"], ["X-Memo", "1"]],
    server: "lsbaws",
    length: 13,
  });
  const variants: Array<[string, Partial<ResponseHeadParts>]> = [
    ["status", { status: 404 }],
    ["reason", { reason: "Fine" }],
    ["header value", { headers: [["Content-Type", "text/html"], ["X-Memo", "1"]] }],
    ["header name", { headers: [["Content-Type", "text/plain"], ["X-Memo2", "1"]] }],
    ["one header fewer", { headers: [["Content-Type", "text/plain"]] }],
    ["one header more", {
      headers: [["Content-Type", "text/plain"], ["X-Memo", "1"], ["X-More", "2"]],
    }],
    ["date", { date: "Mon, 07 Nov 1994 08:49:37 GMT" }],
    ["server", { server: "other" }],
    ["framing", { framing: "chunked", length: undefined }],
    ["connection", { connection: "close" }],
    ["length", { length: 14 }],
    ["no length", { length: undefined }],
    ["extra", { extra: "Upgrade: websocket\r\n" }],
    ["defaults", { defaults: "X-Frame-Options: DENY\r\n" }],
    ["no date", { date: "" }],
  ];
  for (const [what, over] of variants) {
    const variant = { ...base, ...over };
    writeRecorded(base);
    assert.equal(writeRecorded(base).text, text(encodeResponseHead(base)), `${what}: base`);
    for (let i = 0; i < 3; i++) {
      assert.equal(writeRecorded(variant).text, text(encodeResponseHead(variant)), what);
    }
  }
  // A header list the app changes in place between responses is read again.
  const headers: Array<[string, string]> = [["X-Memo", "a"]];
  const shared = parts({ headers });
  writeRecorded(shared);
  writeRecorded(shared);
  headers[0][1] = "b";
  assert.match(writeRecorded(shared).text, /\r\nX-Memo: b\r\n/);
});

Deno.test("writeResponseHead: heads too long or with too many fields to keep whole stay exact", () => {
  const long = parts({ headers: [["X-Long", "v".repeat(3000)]], length: 1 });
  const many = parts({
    headers: Array.from({ length: 20 }, (_, i) => [`X-F${i}`, `${i}`] as [string, string]),
  });
  for (const p of [long, many]) {
    const expected = text(encodeResponseHead(p));
    for (let i = 0; i < 4; i++) assert.equal(writeRecorded(p).text, expected);
  }
});

Deno.test("validateResponseHead: an accepted head is accepted again, and no part of a changed one escapes the checks", () => {
  const good: Array<[string, string]> = [["Content-Type", "text/plain"], ["Content-Length", "5"]];
  for (let i = 0; i < 3; i++) assert.equal(validateResponseHead(200, good, ""), 5);
  assert.equal(
    validateResponseHead(200, [["Content-Type", "text/plain"], ["Content-Length", "6"]]),
    6,
  );
  assert.equal(validateResponseHead(200, good, ""), 5);
  const rejects: Array<[string, () => unknown, string]> = [
    [
      "a CTL in a value",
      () => validateResponseHead(200, [["Content-Type", "a\r\nb"], good[1]]),
      "header-value-ctl",
    ],
    [
      "a bad name",
      () => validateResponseHead(200, [["Content Type", "text/plain"], good[1]]),
      "header-name-token",
    ],
    [
      "a hop-by-hop name",
      () => validateResponseHead(200, [["Connection", "close"], good[1]]),
      "hop-by-hop",
    ],
    [
      "a bad length",
      () => validateResponseHead(200, [good[0], ["Content-Length", "x"]]),
      "content-length-digits",
    ],
    ["a 1xx status", () => validateResponseHead(100, good), "status-range"],
    ["a bad reason", () => validateResponseHead(200, good, "O\nK"), "reason-ctl"],
  ];
  for (const [what, call, rule] of rejects) {
    assert.equal(validateResponseHead(200, good, ""), 5, `${what}: the good head first`);
    assert.throws(call, (err: unknown) => err instanceof ResponseError && err.rule === rule, what);
  }
  // A list the app changes in place is checked again.
  const list: Array<[string, string]> = [["X-A", "ok"]];
  assert.equal(validateResponseHead(200, list), -1);
  list[0][1] = "bad\r\n";
  assert.throws(() => validateResponseHead(200, list), ResponseError);
});
