// Gateway spec, section 1 (APP-*): one test per rule of gateway/types.ts.
import assert from "node:assert/strict";
import { AppContractError, AppError } from "../../gateway/errors.ts";
import type { App, Environ, StartResponse } from "../../gateway/types.ts";
import { bytes, fakeExchange, run } from "./_fake_exchange.ts";
import { gatewayHandler } from "../../gateway/run_app.ts";

const OK: [string, string][] = [["Content-Type", "text/plain"]];

Deno.test("APP-1: the app is called once per request with (environ, startResponse)", async () => {
  const calls: unknown[][] = [];
  const app: App = (...args) => {
    calls.push(args);
    args[1]("200 OK", OK);
    return [];
  };
  await run(app);
  assert.equal(calls.length, 1);
  const [environ, startResponse] = calls[0] as [Environ, StartResponse];
  assert.equal(environ.REQUEST_METHOD, "GET");
  assert.equal(typeof startResponse, "function");
});

Deno.test("APP-2: the app must return a body or a Promise of one", async () => {
  for (const value of [undefined, null]) {
    const r = await run(
      ((_e: Environ, sr: StartResponse) => {
        sr("200 OK", OK);
        return value;
      }) as unknown as App,
    );
    assert.ok(r.error instanceof AppContractError);
    assert.equal(r.error.rule, "APP-2");
    assert.deepEqual(r.rec.calls, []);
  }
  const r = await run(async (_e, sr) => {
    await Promise.resolve();
    sr("200 OK", OK);
    return [bytes("async")];
  });
  assert.equal(r.error, undefined);
  assert.equal(r.text(), "async");
});

Deno.test("APP-3: each request gets a fresh environ that the app may modify", async () => {
  const seen: Environ[] = [];
  const app: App = (environ, sr) => {
    seen.push(environ);
    environ.PATH_INFO = "/changed";
    environ["myapp.user"] = "alice";
    environ["lsbaws.request_id"] = "overwritten";
    sr("200 OK", OK);
    return [];
  };
  const a = await run(app);
  const b = await run(app);
  assert.equal(a.error, undefined);
  assert.equal(b.error, undefined);
  assert.notEqual(seen[0], seen[1]);
  assert.equal(seen[1]["myapp.user"], "alice");
  assert.equal(seen[1]["lsbaws.request_id"], "overwritten");
});

Deno.test("APP-4: a throwing app gives an AppError with the cause, logged with its stack", async () => {
  const boom = new Error("secret internals");
  const sync = await run(() => {
    throw boom;
  });
  assert.ok(sync.error instanceof AppError);
  assert.equal(sync.error.cause, boom);
  assert.equal(sync.error.status, 500);
  assert.deepEqual(sync.rec.calls, [], "nothing sent: the engine answers a canned 500");
  const logged = sync.rec.logs.find(([level]) => level === "error");
  assert.ok(logged && logged[1].includes("secret internals") && logged[1].includes("at "));

  const rejected = await run(() => Promise.reject(boom));
  assert.ok(rejected.error instanceof AppError && rejected.error.cause === boom);

  const late = await run((_e, sr) => {
    sr("200 OK", OK);
    return (function* () {
      yield bytes("first");
      throw boom;
    })();
  });
  assert.ok(late.error instanceof AppError && late.error.cause === boom);
  assert.deepEqual(late.rec.calls, ["head", "write"], "head sent, never ended: engine aborts");
  assert.ok(!late.text().includes("secret"));
});

Deno.test("APP-5: an async app is re-entered while an earlier call is still running", async () => {
  const gates: Array<(v: void) => void> = [];
  let active = 0;
  let maxActive = 0;
  const app: App = async (environ, sr) => {
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
    sr("200 OK", OK);
    return [bytes(environ.PATH_INFO)];
  };
  const handler = gatewayHandler(app, { rootPath: "", workers: 1 });
  const one = fakeExchange({ target: "/one" });
  const two = fakeExchange({ target: "/two" });
  const p1 = handler(one.ex);
  const p2 = handler(two.ex);
  await Promise.resolve();
  assert.equal(maxActive, 2);
  gates[1]();
  await p2;
  gates[0]();
  await p1;
  assert.equal(one.text(), "/one");
  assert.equal(two.text(), "/two");
});

Deno.test("APP-6: an input error the app lets escape reaches the server unwrapped", async () => {
  const tooLarge = Object.assign(new Error("BODY_TOO_LARGE"), { status: 413 });
  const r = await run(async (environ, sr) => {
    const body = await environ["lsbaws.input"].read();
    sr("200 OK", OK);
    return [body];
  }, { method: "POST", body: ["abc"], contentLength: null, bodyError: tooLarge });
  assert.equal(r.error, tooLarge);
  assert.deepEqual(r.rec.calls, []);
  assert.ok(!r.rec.logs.some(([level]) => level === "error"));
});
