/**
 * The supervisor's side of listener ownership, in-process (server/process/handover.ts,
 * server/process/worker.ts): which listeners `openSharedListeners` opens for each backend, the
 * worker environment that carries them, and the worker reading it back.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../../../server/config.ts";
import { ActivationError } from "../../../server/libc/inherit.ts";
import { loadLibc } from "../../../server/libc/ffi.ts";
import { createLogger } from "../../../server/log.ts";
import { openSharedListeners, workerEnv } from "../../../server/process/handover.ts";
import { connectWorker } from "../../../server/process/worker.ts";

const HAS_LIBC = loadLibc().ok;
const logger = createLogger({ level: "critical", accessLog: "", accessLogFormat: "common" });

Deno.test("workerEnv: shared sockets go in LSBAWS_WORKER_FDS, else the bind list once known", () => {
  const sockets = [{ fd: 5, bind: "127.0.0.1:8000" }];
  assert.deepEqual(workerEnv(3, null), { LSBAWS_WORKER: "3" });
  assert.deepEqual(workerEnv(3, ["127.0.0.1:8000"]), {
    LSBAWS_WORKER: "3",
    LSBAWS_WORKER_BIND: '["127.0.0.1:8000"]',
  });
  assert.deepEqual(workerEnv(3, ["127.0.0.1:8000"], sockets), {
    LSBAWS_WORKER: "3",
    LSBAWS_WORKER_FDS: '[{"fd":5,"bind":"127.0.0.1:8000"}]',
  });
});

Deno.test("connectWorker reads the inherited sockets (null without them)", () => {
  const opts = { sink: { write() {} }, logger };
  const env = workerEnv(1, null, [{ fd: 5, bind: "unix:/run/a.sock" }]);
  assert.deepEqual(connectWorker("1", env, DEFAULTS, opts).inherited, [
    { fd: 5, bind: "unix:/run/a.sock" },
  ]);
  assert.equal(connectWorker("1", workerEnv(1, ["127.0.0.1:1"]), DEFAULTS, opts).inherited, null);
});

Deno.test("openSharedListeners: --io deno and TLS leave binding to the workers (null)", async () => {
  const base = { ...DEFAULTS, host: "127.0.0.1", port: 0 };
  assert.equal(await openSharedListeners({ ...base, io: "deno" }, null), null);
  assert.equal(
    await openSharedListeners({ ...base, io: "auto", certfile: "c.pem", keyfile: "k.pem" }, null),
    null,
  );
});

Deno.test("openSharedListeners: socket activation with --io deno is an ActivationError", async () => {
  await assert.rejects(
    openSharedListeners({ ...DEFAULTS, io: "deno" }, [{ fd: 3 }]),
    ActivationError,
  );
});

Deno.test({
  name: "openSharedListeners: the libc backend binds every address once, in order",
  ignore: !HAS_LIBC,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-handover-" });
    const bind = ["127.0.0.1:0", `unix:${dir}/s.sock`];
    const shared = await openSharedListeners({ ...DEFAULTS, io: "libc", bind }, null);
    try {
      assert.ok(shared !== null);
      assert.equal(shared.sockets.length, 2);
      assert.match(shared.sockets[0].bind!, /^127\.0\.0\.1:[1-9]\d*$/);
      assert.equal(shared.sockets[1].bind, `unix:${dir}/s.sock`);
      const port = Number(shared.sockets[0].bind!.split(":")[1]);
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } finally {
      shared?.release();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
