/**
 * `pumpStderr`: a worker's control lines go to the supervisor, everything else is forwarded as
 * it came (split lines joined, a last line without newline given one); with no message handler
 * (a worker's stdout under `--capture-output`) nothing is taken for a control line.
 */
import assert from "node:assert/strict";
import { encodeControl } from "../../../server/process/control.ts";
import { pumpStderr } from "../../../server/process/forward.ts";

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

const BEAT = encodeControl({ t: "beat" });

Deno.test("pumpStderr: control lines to the handler, the rest forwarded whole", async () => {
  const messages: unknown[] = [];
  let out = "";
  await pumpStderr(
    streamOf(["one\ntw", `o\n${BEAT}thr`, "ee"]),
    (m) => messages.push(m),
    (t) => (out += t),
  );
  assert.deepEqual(messages, [{ t: "beat" }]);
  assert.equal(out, "one\ntwo\nthree\n");
});

Deno.test("pumpStderr without a handler forwards control-looking lines as they are", async () => {
  let out = "";
  await pumpStderr(streamOf([`hello\n${BEAT}`]), null, (t) => (out += t));
  assert.equal(out, `hello\n${BEAT}`);
});
