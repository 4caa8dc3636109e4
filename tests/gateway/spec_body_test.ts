// Gateway spec, section 6 (BODY-*): one test per rule of gateway/types.ts.
import assert from "node:assert/strict";
import { AppContractError, AppError } from "../../gateway/errors.ts";
import { gatewayHandler } from "../../gateway/run_app.ts";
import type { App, ResponseBody } from "../../gateway/types.ts";
import { bytes, fakeExchange, run, runOn } from "./_fake_exchange.ts";

const OK: [string, string][] = [["Content-Type", "text/plain"]];

/** An app that starts a 200 response and returns `body`. */
function returning(body: unknown): App {
  return (_e, sr) => {
    sr("200 OK", OK);
    return body as ResponseBody;
  };
}

/** A counting iterator: yields `chunks`, then optionally hangs or throws. */
function counted(chunks: unknown[], then: "end" | "hang" | "throw" = "end") {
  const counts = { next: 0, return: 0 };
  let i = 0;
  const iterator = {
    next(): Promise<IteratorResult<unknown>> {
      counts.next++;
      if (i < chunks.length) return Promise.resolve({ done: false, value: chunks[i++] });
      if (then === "hang") return new Promise(() => {});
      if (then === "throw") return Promise.reject(new Error("iterator failed"));
      return Promise.resolve({ done: true, value: undefined });
    },
    return(): Promise<IteratorResult<unknown>> {
      counts.return++;
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return { body: { [Symbol.asyncIterator]: () => iterator }, counts };
}

Deno.test("BODY-1: every accepted body shape is sent, anything else is rejected", async () => {
  const shapes: unknown[] = [
    bytes("ab"),
    [bytes("a"), bytes("b")],
    new Set([bytes("a"), bytes("b")]),
    (function* () {
      yield bytes("a");
      yield bytes("b");
    })(),
    (async function* () {
      yield bytes("a");
      yield bytes("b");
    })(),
    new Blob(["ab"]).stream(),
  ];
  for (const body of shapes) {
    const r = await run(returning(body));
    assert.equal(r.error, undefined, String(body));
    assert.equal(r.text(), "ab");
  }
  for (const bad of [42, {}, new ArrayBuffer(2), new Int16Array(2), () => []]) {
    const r = await run(returning(bad));
    assert.ok(r.error instanceof AppContractError, String(bad));
    assert.equal(r.error.rule, "BODY-1");
  }
});

Deno.test("BODY-2: strings are neither bodies nor chunks", async () => {
  const asBody = await run(returning("text"));
  assert.ok(asBody.error instanceof AppContractError && asBody.error.rule === "BODY-2");
  const inArray = await run(returning([bytes("ok"), "text"]));
  assert.ok(inArray.error instanceof AppContractError && inArray.error.rule === "BODY-2");
  assert.deepEqual(inArray.rec.calls, [], "checked before anything is sent");
  const late = await run(returning((async function* () {
    yield bytes("ok");
    yield "text";
  })()));
  assert.ok(late.error instanceof AppContractError && late.error.rule === "BODY-2");
  assert.deepEqual(late.rec.calls, ["head", "write"]);
  assert.ok(late.rec.logs.some(([level, msg]) => level === "error" && msg.includes("BODY-2")));
});

Deno.test("BODY-3: each chunk is sent, and back-pressure awaited, before the next pull", async () => {
  const fake = fakeExchange({ writes: "backpressure" });
  const r = await runOn(
    fake,
    returning((function* () {
      for (const s of ["a", "b"]) {
        fake.rec.calls.push("pull");
        yield bytes(s);
      }
      fake.rec.calls.push("pull");
    })()),
  );
  assert.equal(r.error, undefined);
  assert.deepEqual(r.rec.calls, [
    "pull",
    "head",
    "write",
    "resolved",
    "pull",
    "write",
    "resolved",
    "pull",
    "end",
  ]);
});

Deno.test("BODY-4: empty chunks are skipped and do not send the headers", async () => {
  const e = new Uint8Array(0);
  const some = await run(returning((function* () {
    yield e;
    yield bytes("a");
    yield e;
  })()));
  assert.deepEqual(some.rec.calls, ["head", "write", "end"]);
  assert.equal(some.text(), "a");
  const fake = fakeExchange();
  let beforeEnd: string[] = [];
  await runOn(
    fake,
    returning((function* () {
      yield e;
      yield e;
      beforeEnd = [...fake.rec.calls];
    })()),
  );
  assert.deepEqual(beforeEnd, []);
  assert.deepEqual(fake.rec.calls, ["head", "end"]);
});

Deno.test("BODY-5: the body is released exactly once on success, error and client loss", async () => {
  // success: a generator's finally runs once
  let finals = 0;
  await run(returning((function* () {
    try {
      yield bytes("x");
    } finally {
      finals++;
    }
  })()));
  assert.equal(finals, 1);
  // error: a contract break mid-body still calls return() once
  const bad = counted([bytes("x"), 7]);
  const r1 = await run(returning(bad.body));
  assert.ok(r1.error instanceof AppContractError);
  assert.equal(bad.counts.return, 1);
  // an iterator that throws
  const failing = counted([bytes("x")], "throw");
  const r2 = await run(returning(failing.body));
  assert.ok(r2.error instanceof AppError);
  assert.equal(failing.counts.return, 1);
  // PEP 3333 close() on the body object, plus the iterator's return()
  let closes = 0;
  const withClose = Object.assign([bytes("a")], { close: () => void closes++ });
  assert.equal((await run(returning(withClose))).text(), "a");
  assert.equal(closes, 1);
  // a ReadableStream is cancelled when the app breaks the contract
  let cancelled = 0;
  const stream = new ReadableStream({
    pull: (c) => c.enqueue("not bytes"),
    cancel: () => void cancelled++,
  });
  assert.ok((await run(returning(stream))).error instanceof AppContractError);
  assert.equal(cancelled, 1);
  // client gone while the iterator hangs
  const hanging = counted([bytes("x")], "hang");
  const fake = fakeExchange();
  const done = runOn(fake, returning(hanging.body));
  await new Promise((r) => setTimeout(r, 5));
  fake.abort();
  const r3 = await done;
  assert.equal(r3.error, undefined);
  assert.equal(hanging.counts.return, 1);
});

Deno.test("BODY-6: an error from a release hook is logged and changes nothing", async () => {
  const body = Object.assign([bytes("kept")], {
    close() {
      throw new Error("close failed");
    },
  });
  const r = await run(returning(body));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.rec.calls, ["head", "write", "end"]);
  assert.ok(r.rec.logs.some(([level, msg]) => level === "error" && msg.includes("BODY-6")));
});

Deno.test("BODY-7: a synchronous Array body is sent synchronously with a Content-Length", () => {
  const fake = fakeExchange();
  const handler = gatewayHandler(returning([bytes("ab"), bytes("cde")]), {
    rootPath: "",
    workers: 1,
  });
  const returned = handler(fake.ex);
  assert.equal(returned, undefined, "no Promise on the fast path");
  assert.deepEqual(fake.rec.calls, ["head", "write", "write", "end"]);
  assert.deepEqual(fake.rec.heads[0].headers, [...OK, ["Content-Length", "5"]]);
  const own = fakeExchange();
  gatewayHandler((_e, sr) => {
    sr("200 OK", [["content-length", "1"]]);
    return bytes("z");
  }, { rootPath: "", workers: 1 })(own.ex);
  assert.deepEqual(own.rec.heads[0].headers, [["content-length", "1"]]);
  const slow = fakeExchange({ writes: "backpressure" });
  const pending = gatewayHandler(returning([bytes("a"), bytes("b")]), {
    rootPath: "",
    workers: 1,
  })(slow.ex);
  assert.ok(pending instanceof Promise, "back-pressure leaves the fast path");
  return pending.then(() => assert.equal(slow.text(), "ab"));
});

Deno.test("BODY-9: when the client goes away the runner stops, releases and reports nothing", async () => {
  let finals = 0;
  let pulls = 0;
  const fake = fakeExchange({ writes: "hang" });
  const done = runOn(
    fake,
    returning((function* () {
      try {
        while (true) {
          pulls++;
          yield bytes("tick");
        }
      } finally {
        finals++;
      }
    })()),
  );
  await new Promise((r) => setTimeout(r, 5));
  fake.abort();
  const r = await done;
  assert.equal(r.error, undefined);
  assert.equal(pulls, 1);
  assert.equal(finals, 1);
  assert.equal(r.rec.ended, false);
  assert.ok(!r.rec.logs.some(([level]) => level === "error"));
});

Deno.test("BODY-10: a returned file_wrapper is sent with sendFile and a computed Content-Length, then closed", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/f.bin`;
  Deno.writeFileSync(path, new Uint8Array(1000));
  let file: Deno.FsFile | undefined;
  const app = (declared?: string, seek = 0): App => (environ, sr) => {
    sr("200 OK", declared === undefined ? OK : [...OK, ["Content-Length", declared]]);
    file = Deno.openSync(path);
    file.seekSync(seek, Deno.SeekMode.Start);
    return environ["lsbaws.file_wrapper"](file);
  };
  try {
    // Content-Length from the file's size minus its position.
    let r = await runOn(fakeExchange({ sendFile: true }), app(undefined, 100));
    assert.equal(r.error, undefined);
    assert.deepEqual(r.rec.calls, ["head", "sendFile", "end"]);
    assert.deepEqual(r.rec.heads[0].headers.at(-1), ["Content-Length", "900"]);
    assert.deepEqual(r.rec.files, [{ offset: 100, length: 900 }]);
    assert.throws(() => file!.statSync(), Deno.errors.BadResource, "closed after the response");
    // An app-set Content-Length is what is sent.
    r = await runOn(fakeExchange({ sendFile: true }), app("10"));
    assert.equal(r.rec.heads[0].headers.filter(([n]) => n === "Content-Length").length, 1);
    assert.deepEqual(r.rec.files, [{ offset: 0, length: 10 }]);
    // HEAD: the same head, no body.
    r = await runOn(fakeExchange({ sendFile: true, method: "HEAD" }), app());
    assert.deepEqual(r.rec.calls, ["head", "end"]);
    assert.deepEqual(r.rec.heads[0].headers.at(-1), ["Content-Length", "1000"]);
    assert.throws(() => file!.statSync(), Deno.errors.BadResource);
    // The client goes away mid-file: no error, the wrapper is closed.
    const fake = fakeExchange({ sendFile: true, writes: "hang" });
    const done = runOn(fake, app());
    await new Promise((res) => setTimeout(res, 5));
    fake.abort();
    r = await done;
    assert.equal(r.error, undefined);
    assert.equal(r.rec.ended, false);
    assert.throws(() => file!.statSync(), Deno.errors.BadResource);
    // A responder without sendFile: the wrapper is iterated like any body.
    r = await runOn(fakeExchange(), app());
    assert.equal(r.rec.files.length, 0);
    assert.equal(r.rec.chunks.reduce((a, c) => a + c.length, 0), 1000);
    assert.throws(() => file!.statSync(), Deno.errors.BadResource);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
