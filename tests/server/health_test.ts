/**
 * --health-path and --shutdown-delay-ms with real processes: 200 while serving, 503 once shutdown
 * starts, and (with a delay) new connections are still accepted and answered while a load balancer
 * notices the 503, before the listeners close.
 */
import assert from "node:assert/strict";
import { rawOnce, runLoad } from "../_support/load.ts";
import { delay, startLsbaws } from "../_support/proc.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

for (const workers of ["1", "2"]) {
  Deno.test(`health path: 200, then 503 during the shutdown delay, then closed (-w ${workers})`, async () => {
    const p = await startLsbaws([
      "-w",
      workers,
      "-p",
      "0",
      "--health-path",
      "/healthz",
      "--shutdown-delay-ms",
      "1500",
      APP,
    ]);
    try {
      if (workers === "2") {
        await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "2 workers");
      }
      const url = `http://127.0.0.1:${p.port()}`;
      const ok = await rawOnce({ url: `${url}/healthz` });
      assert.equal(ok.status, 200);
      assert.equal(ok.body, "OK\n");
      // A keep-alive connection opened before the stop, still in use during the delay.
      const slow = runLoad({ url: `${url}/slow?ms=600`, total: 2, concurrency: 1 });
      await delay(200);
      p.signal("SIGTERM");
      await delay(300);
      const during = await rawOnce({ url: `${url}/healthz` });
      assert.equal(during.status, 503, "new connections are accepted and told 503");
      const page = await rawOnce({ url: `${url}/` });
      assert.equal(page.status, 200, "requests are still served during the delay");
      const s = await slow.done;
      assert.equal(s.ok, 2, s.errors.join("; "));
      assert.equal((await p.status).code, 0);
      await assert.rejects(rawOnce({ url: `${url}/healthz` }), Deno.errors.ConnectionRefused);
    } finally {
      await p.stop();
    }
  });
}
