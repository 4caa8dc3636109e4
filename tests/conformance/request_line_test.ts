/**
 * Request-line conformance (RFC 9112 §2.2, §2.3, §3): token methods, the four target forms,
 * versions, single-SP separators, CRLF discipline, fragments and junk before the method. Every
 * rejection must be the canned response with `Connection: close`, a closed socket, and no echo of
 * the request bytes.
 */
import { conformanceSuite, fromTable, get, type Row, withBody } from "../_support/conformance.ts";

const X = "X-Mark: {M}\r\n";
const HOST = "Host: t\r\n";

const ROWS: Row[] = [
  // Accepted forms.
  ["answers GET / HTTP/1.1 with 200 Hello", get("/", X), { ok: 200, body: "Hello" }],
  ["answers GET / HTTP/1.0 without Host with 200", get("/", X, "1.0"), { ok: 200, body: "Hello" }],
  ["accepts a query string in origin-form", get("/?q=1&r=%20{M}"), { ok: 200, body: "Hello" }],
  ["accepts PATCH (a token method) on /echo", withBody("PATCH", "/echo", "patch"), {
    ok: 200,
    body: "patch",
  }],
  ["accepts M-SEARCH (token with '-') on /echo", withBody("M-SEARCH", "/echo", "ms"), {
    ok: 200,
    body: "ms",
  }],
  [
    "accepts a method made of every tchar punctuation",
    withBody("X!#$%&'*+.^_`|~9", "/echo", "tc"),
    { ok: 200, body: "tc" },
  ],
  ["keeps methods case-sensitive but accepts lowercase tokens", withBody("get", "/echo", "lc"), {
    ok: 200,
    body: "lc",
  }],
  [
    "accepts absolute-form and serves its path",
    `GET http://example.com/ HTTP/1.1\r\nHost: other\r\n${X}\r\n`,
    { ok: 200, body: "Hello" },
  ],
  [
    "accepts absolute-form with a port and query",
    `GET http://example.com:8080/?a=b HTTP/1.1\r\n${HOST}${X}\r\n`,
    { ok: 200, body: "Hello" },
  ],
  ["accepts OPTIONS * (asterisk-form)", `OPTIONS * HTTP/1.1\r\n${HOST}${X}\r\n`, {
    notRejected: true,
  }],
  [
    "accepts CONNECT host:port (authority-form)",
    `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n${X}\r\n`,
    { notRejected: true },
  ],
  ["ignores one leading CRLF before the request line", "\r\n" + get("/", X), {
    ok: 200,
    body: "Hello",
  }],
  ["ignores several leading CRLFs", "\r\n\r\n\r\n" + get("/", X), { ok: 200, body: "Hello" }],
  ["accepts an 8000-byte request target", get("/?" + "a".repeat(8000)), {
    ok: 200,
    body: "Hello",
  }],
  // Target forms in the wrong place.
  ["rejects GET * with 400", `GET * HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  [
    "rejects authority-form on GET with 400",
    `GET example.com:443 HTTP/1.1\r\n${HOST}${X}\r\n`,
    400,
  ],
  ["rejects CONNECT with an origin-form target", `CONNECT /x HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects a relative target without '/'", `GET index.html HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects OPTIONS *x", `OPTIONS *x HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  // Versions.
  // RFC 9110 §2.5: a higher minor of major 1 is served as HTTP/1.1; another major gets 505.
  ["serves HTTP/1.2 as HTTP/1.1 with 200", `GET / HTTP/1.2\r\n${HOST}${X}\r\n`, {
    ok: 200,
    body: "Hello",
  }],
  ["serves HTTP/1.9 as HTTP/1.1 with 200", `GET / HTTP/1.9\r\n${HOST}${X}\r\n`, {
    ok: 200,
    body: "Hello",
  }],
  ["rejects HTTP/1.2 without Host with 400 (HTTP/1.1 rules)", `GET /{M} HTTP/1.2\r\n\r\n`, 400],
  ["answers HTTP/2.0 with 505", `GET / HTTP/2.0\r\n${HOST}${X}\r\n`, 505],
  ["answers HTTP/3.1 with 505", `GET / HTTP/3.1\r\n${HOST}${X}\r\n`, 505],
  ["answers HTTP/9.9 with 505", `GET / HTTP/9.9\r\n${HOST}${X}\r\n`, 505],
  ["answers HTTP/0.9 (as a versioned line) with 505", `GET / HTTP/0.9\r\n${HOST}${X}\r\n`, 505],
  ["rejects lowercase http/1.1 with 400", `GET / http/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTTP/1 with 400", `GET / HTTP/1\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTTP/1.10 with 400", `GET / HTTP/1.10\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTTP/01.1 with 400", `GET / HTTP/01.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTTP/1,1 with 400", `GET / HTTP/1,1\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTTP/a.b with 400", `GET / HTTP/a.b\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTTPS/1.1 with 400", `GET / HTTPS/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects a request line without a version", `GET /{M}\r\n${HOST}\r\n`, 400],
  ["rejects a request line with a fourth token", `GET / HTTP/1.1 x\r\n${HOST}${X}\r\n`, 400],
  // Separators.
  ["rejects a double SP after the method", `GET  / HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects a double SP before the version", `GET /  HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTAB after the method", `GET\t/ HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects HTAB before the version", `GET /\tHTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects a trailing SP after the version", `GET / HTTP/1.1 \r\n${HOST}${X}\r\n`, 400],
  ["rejects a leading SP before the method", ` GET / HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects an empty method", ` / HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  // Line endings.
  ["rejects a bare LF after the request line", `GET / HTTP/1.1\n${HOST}${X}\r\n`, 400],
  ["rejects an all-LF request", `GET / HTTP/1.1\nHost: t\nX-Mark: {M}\n\n`, 400],
  ["rejects a bare CR after the request line", `GET / HTTP/1.1\r${HOST}${X}\r\n`, 400],
  ["rejects a bare CR inside the request line", `GET /\r HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects LF CR instead of CRLF", `GET / HTTP/1.1\n\r${HOST}${X}\r\n`, 400],
  ["rejects a lone LF before the request line", "\n" + get("/", X), 400],
  ["rejects a lone CR before the request line", "\rX" + get("/", X), 400],
  // Target bytes.
  ["rejects a #fragment in the target", `GET /#frag{M} HTTP/1.1\r\n${HOST}\r\n`, 400],
  ["rejects a trailing '#' in the target", `GET /a# HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects a space inside the target", `GET /a b HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects DEL in the target", `GET /\x7f HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects NUL in the target", `GET /\x00 HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects raw UTF-8 bytes in the target", `GET /\xc3\xa9 HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  // Methods and junk.
  ["rejects '(' inside the method", `GE(T / HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects '/' inside the method", `GE/T / HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects a non-ASCII byte in the method", `G\xc9T / HTTP/1.1\r\n${HOST}${X}\r\n`, 400],
  ["rejects NUL before the method", "\x00" + get("/", X), 400],
  ["rejects TLS ClientHello bytes", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03{M}\r\n\r\n", 400],
  ["rejects '@' before the method", "@" + get("/", X), 400],
  ["rejects a lone word as a request line", `GARBAGE{M}\r\n\r\n`, 400],
];

conformanceSuite("conformance: request line", fromTable(ROWS));
