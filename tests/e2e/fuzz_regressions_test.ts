/**
 * Regressions found by the fuzz run (tests/fuzz/), each pinned as a plain test on both socket
 * backends.
 *
 * - A client that sends a complete bodyless POST and half-closes, against a gateway app that
 *   streams `lsbaws.input.stream` back: the EOF aborts the request's signal, the runner stops
 *   pulling (BODY-9) and returns without finishing; the engine used to call that an app error
 *   (ERROR log "handler returned without finishing the response") and answer 500. Now the
 *   response is abandoned as a client that went away: never a 500, no error line.
 * - A malformed chunked body sent to a gateway app that returns `lsbaws.input.stream`: releasing
 *   that body rethrows the client's body error, which used to be logged at ERROR as a broken
 *   BODY-6 release hook (blaming the app); it is the client's fault and is logged at debug.
 */
import assert from "node:assert/strict";
import { startApp, type TestIo, testIo } from "../_support/server.ts";
import { roundTrip } from "../_support/raw_client.ts";
import { loadLibc } from "../../server/libc/ffi.ts";

const BACKENDS: TestIo[] = testIo() === null ? ["libc", "deno"] : [testIo()!];

for (const io of BACKENDS) {
  Deno.test({
    name:
      `[io=${io}] a half-closed client's bodyless POST to a streaming gateway app is never a 500`,
    ignore: io === "libc" && !loadLibc().ok,
    fn: async () => {
      const s = await startApp("tests/fuzz/apps.ts:gateway", { io });
      try {
        for (
          const req of [
            "POST / HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
          ]
        ) {
          for (let i = 0; i < 10; i++) {
            const rt = await roundTrip(s.port, req, { halfClose: true, untilClose: true });
            assert.ok(rt.closed, "the server did not close after the half-close");
            assert.equal(rt.partial, "", `garbled reply: ${JSON.stringify(rt.text)}`);
            for (const r of rt.responses) assert.equal(r.status, 200, JSON.stringify(rt.text));
          }
        }
        const errors = s.logs.filter((l) => /\[ERROR\]/.test(l));
        assert.deepEqual(errors, []);
        // A client that keeps its side open still gets the streamed (empty) echo.
        const rt = await roundTrip(s.port, "POST / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.equal(rt.responses[0]?.status, 200, JSON.stringify(rt.text));
      } finally {
        await s.close();
      }
    },
  });
}

for (const io of BACKENDS) {
  Deno.test({
    name: `[io=${io}] a bad chunked body echoed by a gateway app logs no error`,
    ignore: io === "libc" && !loadLibc().ok,
    fn: async () => {
      const s = await startApp("tests/fuzz/apps.ts:gateway", { io });
      try {
        for (const size of ["zz", "-1", "5;"]) {
          const req = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            `5\r\nhello\r\n${size}\r\nhello\r\n0\r\n\r\n`;
          const rt = await roundTrip(s.port, req, { untilClose: true });
          assert.ok(rt.closed, "the connection stayed open after a body error");
        }
        const errors = s.logs.filter((l) => /\[ERROR\]/.test(l));
        assert.deepEqual(errors, []);
      } finally {
        await s.close();
      }
    },
  });
}
