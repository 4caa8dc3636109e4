/**
 * `lsbaws.input.read(n)` on the wire (gateway rule IN-1, against
 * tests/fixtures/apps/read_sizes.ts): whatever the framing (Content-Length or chunked with
 * irregular chunk sizes), however the body is cut into TCP writes and whatever `n` (from 1 byte
 * to more than the body, and past the size a chunked read fills in place), every read but the
 * last returns exactly `n` bytes, the last the remainder, then an empty read, and the bytes come
 * back unchanged.
 */
import assert from "node:assert/strict";
import { type Case, conformanceSuite, show } from "../_support/conformance.ts";
import { header, roundTrip } from "../_support/raw_client.ts";

const APP = "tests/fixtures/apps/read_sizes.ts:app";
const LENGTH = 100_000;
/** Chunk sizes of the chunked body (they add up to `LENGTH`). */
const CHUNKS = [1, 5, 4096, 70_000, 3, 25_895];
/** `read(n)` sizes; `undefined` is `read()`. 2 MiB is past the in-place limit for chunked. */
const SIZES = [1, 7, 4096, 65_536, LENGTH, 250_000, 2 << 20, undefined];

/** Pseudo-random bytes (every value 0-255 occurs) as a latin-1 string, one char per byte. */
const BODY = Array.from({ length: LENGTH }, (_, i) => String.fromCharCode((i * 2654435761) >>> 24))
  .join("");

/** The `X-Reads` the app must report for `read(n)` over `LENGTH` bytes. */
function expectedReads(n: number | undefined): string {
  if (n === undefined || n >= LENGTH) return `${LENGTH},0`;
  const full = Math.floor(LENGTH / n);
  const rest = LENGTH % n;
  return [full === 1 ? `${n}` : `${n}*${full}`, ...(rest > 0 ? [String(rest)] : []), "0"].join(
    ",",
  );
}

/** The body framed as chunked, with the chunk sizes above. */
function chunked(): string {
  let out = "";
  let at = 0;
  for (const size of CHUNKS) {
    out += `${size.toString(16)}\r\n${BODY.slice(at, at + size)}\r\n`;
    at += size;
  }
  return out + "0\r\n\r\n";
}

/** Cuts `text` at the given fractions of its length, so the body arrives in several reads. */
function cut(text: string, fractions: readonly number[]): string[] {
  const at = [0, ...fractions.map((f) => Math.floor(text.length * f)), text.length];
  return at.slice(1).map((end, i) => text.slice(at[i], end));
}

const cases: Case[] = [];
for (const framing of ["length", "chunked"] as const) {
  for (const n of SIZES) {
    cases.push({
      name: `${framing} body, read(${n ?? ""}): exact reads, bytes unchanged`,
      fn: async (port) => {
        const target = n === undefined ? "/" : `/?n=${n}`;
        const head = `POST ${target} HTTP/1.1\r\nHost: t\r\n` +
          (framing === "length" ? `Content-Length: ${LENGTH}` : "Transfer-Encoding: chunked") +
          "\r\nConnection: close\r\n\r\n";
        const body = framing === "length" ? BODY : chunked();
        const rt = await roundTrip(port, cut(head + body, [0.05, 0.3, 0.31, 0.7]), {
          responses: 1,
          gapMs: 5,
        });
        const r = rt.responses[0];
        assert.ok(r, show(rt.text.slice(0, 300)));
        assert.equal(r.status, 200);
        assert.equal(header(r, "x-reads"), expectedReads(n));
        assert.equal(r.body.length, LENGTH);
        assert.ok(r.body === BODY, "the echoed body differs from the one sent");
      },
    });
  }
}

conformanceSuite("input.read(n) returns exact reads of the body", cases, { app: APP });
