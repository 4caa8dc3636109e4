// Gateway spec, sections 7 and 8 (IN-*, ERR-*): one test per rule of gateway/types.ts.
import assert from "node:assert/strict";
import { createErrorStream } from "../../gateway/environ.ts";
import { createInput, isInputError } from "../../gateway/input.ts";
import type { Input } from "../../gateway/types.ts";
import { fakeExchange, type FakeOptions, type Recorder, run, str } from "./_fake_exchange.ts";

function inputOf(body: string[], options: FakeOptions = {}): { input: Input; rec: Recorder } {
  const { ex, rec } = fakeExchange({ method: "POST", body, ...options });
  return { input: createInput(ex.body), rec };
}

/**
 * The IN rules hold for both kinds of engine body: one that hands out chunks (`read`) and one
 * that also decodes into the caller's buffer (`readInto`, which `read(n)` then uses).
 */
const BODY_KINDS = [
  { kind: "", readInto: false },
  { kind: " [readInto body]", readInto: true },
] as const;

for (const { kind, readInto } of BODY_KINDS) {
  Deno.test(`IN-1: read(n) gives exactly n bytes unless the body ends; read() gives the rest${kind}`, async () => {
    const { input } = inputOf(["hel", "lo wor", "ld!"], { readInto });
    assert.equal(str(await input.read(5)), "hello");
    assert.equal((await input.read(0)).length, 0);
    assert.equal(str(await input.read(3)), " wo");
    assert.equal(str(await input.read()), "rld!");
    const other = inputOf(["abc", "def"], { readInto }).input;
    assert.equal(str(await other.read(-1)), "abcdef");
    const short = inputOf(["abc"], { readInto }).input;
    assert.equal(str(await short.read(10)), "abc");
  });

  Deno.test(`IN-2: at the end of the body every read is empty and nothing more is read${kind}`, async () => {
    const { input, rec } = inputOf(["ab"], { readInto });
    assert.equal(str(await input.read()), "ab");
    const reads = rec.bodyReads;
    assert.equal((await input.read(10)).length, 0);
    assert.equal((await input.readline()).length, 0);
    assert.equal((await input.read()).length, 0);
    assert.equal(rec.bodyReads, reads, "EOF is remembered");
    const none = inputOf([], { readInto, method: "GET" });
    assert.equal((await none.input.read()).length, 0);
    assert.equal(none.rec.bodyReads, 0, "a body of length 0 is never read (no 100 Continue)");
  });

  Deno.test(`IN-3: readline() stops after LF, at the limit, or at the end${kind}`, async () => {
    const { input } = inputOf(["ab\ncd", "ef\ngh", "ij"], { readInto });
    assert.equal(str(await input.readline()), "ab\n");
    assert.equal(str(await input.readline(2)), "cd");
    assert.equal(str(await input.readline()), "ef\n");
    assert.equal(str(await input.readline()), "ghij");
    assert.equal((await input.readline()).length, 0);
    const limited = inputOf(["abcdef\n"], { readInto }).input;
    assert.equal(str(await limited.readline(0)), "");
    assert.equal(str(await limited.readline(7)), "abcdef\n");
  });

  Deno.test(`IN-4: readlines() returns the remaining lines, up to the hint${kind}`, async () => {
    const all = inputOf(["a\nbb\n", "ccc"], { readInto }).input;
    assert.deepEqual((await all.readlines()).map(str), ["a\n", "bb\n", "ccc"]);
    const hinted = inputOf(["a\nbb\nccc\n"], { readInto }).input;
    assert.deepEqual((await hinted.readlines(3)).map(str), ["a\n", "bb\n"]);
    assert.deepEqual((await hinted.readlines()).map(str), ["ccc\n"]);
  });

  Deno.test(`IN-5: async iteration yields the remaining lines${kind}`, async () => {
    const { input } = inputOf(["one\ntw", "o\nthree"], { readInto });
    const lines: string[] = [];
    for await (const line of input) lines.push(str(line));
    assert.deepEqual(lines, ["one\n", "two\n", "three"]);
  });

  Deno.test(`IN-6: stream is one ReadableStream over the unread bytes, sharing the buffer${kind}`, async () => {
    const { input } = inputOf(["head\nrest", " of it"], { readInto });
    assert.equal(input.stream, input.stream);
    assert.equal(str(await input.readline()), "head\n");
    const text = await new Response(input.stream).text();
    assert.equal(text, "rest of it");
    assert.equal((await input.read()).length, 0);
  });
}

Deno.test("IN-7: the input has no close()", () => {
  const { input } = inputOf(["x"]);
  assert.ok(!("close" in input));
});

for (const { kind, readInto } of BODY_KINDS) {
  Deno.test(`IN-8: a failed body read rejects with the server's own error${kind}`, async () => {
    const failure = Object.assign(new Error("INCOMPLETE_BODY"), { status: 400 });
    const { input } = inputOf(["ok"], { readInto, contentLength: null, bodyError: failure });
    assert.equal(str(await input.read(2)), "ok");
    await assert.rejects(() => input.read(5), (err) => err === failure);
    assert.ok(isInputError(failure));
    assert.ok(!isInputError(new Error("other")));
    const rest = inputOf(["ok"], { readInto, contentLength: null, bodyError: failure }).input;
    await assert.rejects(() => rest.read(), (err) => err === failure);
    const streamed = inputOf([], { readInto, contentLength: null, bodyError: failure }).input;
    await assert.rejects(() => new Response(streamed.stream).text(), (err) => err === failure);
  });
}

Deno.test("IN-1: read(n) from a readInto body fills one buffer of the right size", async () => {
  // Declared length: the result is sized to what is left, however large n is.
  const declared = inputOf(["hel", "lo wor", "ld!"], { readInto: true });
  assert.equal(str(await declared.input.readline(2)), "he");
  const all = await declared.input.read(1 << 30);
  assert.equal(str(all), "llo world!");
  assert.equal(all.buffer.byteLength, all.length, "one buffer, sized to the rest of the body");
  assert.equal(declared.rec.bodyReads, 1, "the readline's chunk came through read()");
  assert.equal(declared.rec.bodyReadsInto, 2, "the rest was decoded into the result");
  assert.equal((await declared.input.read(5)).length, 0);
  // Chunked: up to 1 MiB in place; a result cut short by the end owns a buffer of its size.
  const chunked = inputOf(["abc", "defg"], { readInto: true, contentLength: null });
  const first = await chunked.input.read(5);
  assert.equal(str(first), "abcde");
  assert.equal(first.buffer.byteLength, 5);
  const short = await chunked.input.read(100);
  assert.equal(str(short), "fg");
  assert.equal(short.buffer.byteLength, 2);
  assert.equal(chunked.rec.bodyReads, 0);
  // Chunked, n over 1 MiB: the pieces are queued and joined instead (no n-sized allocation).
  const big = inputOf(["abc", "defg"], { readInto: true, contentLength: null });
  assert.equal(str(await big.input.read(2 << 20)), "abcdefg");
  assert.equal(big.rec.bodyReadsInto, 0);
});

Deno.test("ERR-1: write() logs each complete line at level error", () => {
  const logs: Array<[string, string]> = [];
  const errors = createErrorStream((level, msg) => void logs.push([level, msg]));
  errors.write("first\nsec");
  errors.write("ond\n");
  assert.deepEqual(logs, [["error", "first"], ["error", "second"]]);
});

Deno.test("ERR-2: writelines() writes each item in turn", () => {
  const logs: string[] = [];
  const errors = createErrorStream((_level, msg) => void logs.push(msg));
  errors.writelines(["a\n", "b", "c\n"]);
  assert.deepEqual(logs, ["a", "bc"]);
});

Deno.test("ERR-3: flush() logs a partial line, and the server flushes after each request", async () => {
  const logs: string[] = [];
  const errors = createErrorStream((_level, msg) => void logs.push(msg));
  errors.write("partial");
  assert.deepEqual(logs, []);
  errors.flush();
  errors.flush();
  assert.deepEqual(logs, ["partial"]);
  const r = await run((environ, sr) => {
    environ["lsbaws.errors"].write("unterminated");
    sr("200 OK", []);
    return [];
  });
  assert.deepEqual(r.rec.logs, [["error", "unterminated"]]);
});
