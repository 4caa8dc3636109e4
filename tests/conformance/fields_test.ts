/**
 * Header-field conformance (RFC 9112 §5, RFC 9110 §5.5-§5.6): field-line syntax, no whitespace
 * before the colon, no obs-fold, token names, CTL-free values, opaque obs-text, and the Host rules
 * (exactly one valid Host on HTTP/1.1).
 */
import { conformanceSuite, fromTable, get, type Row } from "../_support/conformance.ts";

const RL = "GET / HTTP/1.1\r\n";
const HOST = "Host: t\r\n";
const X = "X-Mark: {M}\r\n";
const OK = { ok: 200, body: "Hello" } as const;

const ROWS: Row[] = [
  // Accepted.
  ["treats header names case-insensitively (hoSt)", `${RL}hoSt: t\r\n${X}\r\n`, OK],
  ["accepts HTAB as OWS before and after a value", `${RL}Host:\tt\t\r\n${X}\r\n`, OK],
  ["accepts an empty header value", `${RL}${HOST}X-Empty:\r\n${X}\r\n`, OK],
  ["accepts an empty value with only OWS", `${RL}${HOST}X-Empty: \t \r\n${X}\r\n`, OK],
  ["accepts HTAB and SP inside a value", `${RL}${HOST}X-A: a\tb  c\r\n${X}\r\n`, OK],
  [
    "accepts obs-text (0x80-0xFF) in a value",
    `${RL}${HOST}X-City: D\xfcsseldorf\xff\x80\r\n${X}\r\n`,
    OK,
  ],
  [
    "accepts a value full of visible punctuation",
    `${RL}${HOST}X-P: !"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~\r\n\r\n`,
    OK,
  ],
  [
    "accepts a header name made of tchar punctuation",
    `${RL}${HOST}!#$%&'*+-.^_\`|~: v\r\n\r\n`,
    OK,
  ],
  ["accepts HTTP/1.0 without Host", get("/", X, "1.0"), OK],
  ["accepts Host with a port", `${RL}Host: example.com:8080\r\n${X}\r\n`, OK],
  ["accepts an IPv6 literal Host", `${RL}Host: [::1]:80\r\n${X}\r\n`, OK],
  [
    "accepts 100 header fields (the default limit)",
    RL + HOST + Array.from({ length: 99 }, (_, i) => `X-H${i}: v\r\n`).join("") + "\r\n",
    OK,
  ],
  // Whitespace around names.
  ["rejects SP before the colon", `${RL}Host : t\r\n${X}\r\n`, 400],
  ["rejects HTAB before the colon", `${RL}${HOST}X-A\t: v\r\n${X}\r\n`, 400],
  [
    "rejects SP before the colon of Content-Length",
    `POST /echo HTTP/1.1\r\n${HOST}Content-Length : 3\r\n${X}\r\nabc`,
    400,
  ],
  ["rejects obs-fold with SP", `${RL}${HOST}X-A: one\r\n two\r\n${X}\r\n`, 400],
  ["rejects obs-fold with HTAB", `${RL}${HOST}X-A: one\r\n\ttwo\r\n${X}\r\n`, 400],
  ["rejects a first header line starting with SP", `${RL} Host: t\r\n${X}\r\n`, 400],
  ["rejects a first header line starting with HTAB", `${RL}\tHost: t\r\n${X}\r\n`, 400],
  // Names.
  ["rejects '[]' in a header name", `${RL}${HOST}X-[]: v\r\n${X}\r\n`, 400],
  ["rejects '@' in a header name", `${RL}${HOST}a@b: v\r\n${X}\r\n`, 400],
  ["rejects a SP inside a header name", `${RL}${HOST}X A: v\r\n${X}\r\n`, 400],
  ["rejects 0x01 in a header name", `${RL}${HOST}X\x01A: v\r\n${X}\r\n`, 400],
  ["rejects DEL in a header name", `${RL}${HOST}X\x7fA: v\r\n${X}\r\n`, 400],
  ["rejects a non-ASCII byte in a header name", `${RL}${HOST}X\xe9: v\r\n${X}\r\n`, 400],
  ["rejects '\"' in a header name", `${RL}${HOST}"q": v\r\n${X}\r\n`, 400],
  ["rejects an empty header name", `${RL}${HOST}: v\r\n${X}\r\n`, 400],
  ["rejects a header line without a colon", `${RL}${HOST}NoColon{M}\r\n\r\n`, 400],
  // Values.
  ["rejects NUL in a value", `${RL}${HOST}X-A: a\x00b\r\n${X}\r\n`, 400],
  ["rejects BEL (0x07) in a value", `${RL}${HOST}X-A: a\x07b\r\n${X}\r\n`, 400],
  ["rejects BS (0x08) in a value", `${RL}${HOST}X-A: a\x08b\r\n${X}\r\n`, 400],
  ["rejects VT (0x0B) in a value", `${RL}${HOST}X-A: a\x0bb\r\n${X}\r\n`, 400],
  ["rejects FF (0x0C) in a value", `${RL}${HOST}X-A: a\x0cb\r\n${X}\r\n`, 400],
  ["rejects ESC (0x1B) in a value", `${RL}${HOST}X-A: a\x1bb\r\n${X}\r\n`, 400],
  ["rejects DEL (0x7F) in a value", `${RL}${HOST}X-A: a\x7fb\r\n${X}\r\n`, 400],
  ["rejects a bare CR inside a value", `${RL}${HOST}X-A: a\rb\r\n${X}\r\n`, 400],
  ["rejects a bare LF inside the header block", `${RL}${HOST}X-A: a\nX-B: b\r\n${X}\r\n`, 400],
  ["rejects CR followed by junk at the end of headers", `${RL}${HOST}\r${X}\r\n`, 400],
  // Host.
  ["rejects HTTP/1.1 without Host", `${RL}${X}\r\n`, 400],
  ["rejects two identical Host lines", `${RL}${HOST}${HOST}${X}\r\n`, 400],
  ["rejects two different Host lines", `${RL}${HOST}Host: u\r\n${X}\r\n`, 400],
  ["rejects two Host lines on HTTP/1.0", `GET / HTTP/1.0\r\n${HOST}${HOST}${X}\r\n`, 400],
  ["rejects a Host with a space", `${RL}Host: a b\r\n${X}\r\n`, 400],
  ["rejects a Host with userinfo", `${RL}Host: user@t\r\n${X}\r\n`, 400],
  ["rejects a Host with a path", `${RL}Host: t/path\r\n${X}\r\n`, 400],
  ["rejects a Host with a non-numeric port", `${RL}Host: t:http\r\n${X}\r\n`, 400],
  ["rejects a Host with port 99999", `${RL}Host: t:99999\r\n${X}\r\n`, 400],
  ["rejects a Host with an unbalanced IPv6 bracket", `${RL}Host: [::1\r\n${X}\r\n`, 400],
];

conformanceSuite("conformance: header fields", fromTable(ROWS));
