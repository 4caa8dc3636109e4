// Gateway spec, sections 4 and 5 (SR-*, WR-*): one test per rule of gateway/types.ts.
import assert from "node:assert/strict";
import { AppContractError } from "../../gateway/errors.ts";
import { createStartResponse } from "../../gateway/start_response.ts";
import type { Write } from "../../gateway/types.ts";
import { bytes, fakeExchange, run, runOn } from "./_fake_exchange.ts";

const OK: [string, string][] = [["Content-Type", "text/plain"]];

function rule(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppContractError) return err.rule;
    throw err;
  }
  return "none";
}

function start(status: unknown, headers: unknown = OK): string {
  const { startResponse } = createStartResponse();
  return rule(() => startResponse(status as string, headers as Array<[string, string]>));
}

Deno.test("SR-1: the body may not produce data or end before startResponse", async () => {
  const early = await run(() => [bytes("x")]);
  assert.ok(early.error instanceof AppContractError && early.error.rule === "SR-1");
  assert.deepEqual(early.rec.calls, []);
  const none = await run(() => []);
  assert.ok(none.error instanceof AppContractError && none.error.rule === "SR-1");
  const lazy = await run((_e, sr) =>
    (function* () {
      sr("201 Created", OK);
      yield bytes("made");
    })()
  );
  assert.equal(lazy.error, undefined);
  assert.equal(lazy.rec.heads[0].status, 201);
});

Deno.test("SR-2: status must be 'NNN Reason' with a final code", () => {
  for (
    const bad of ["200", "200OK", "2000 OK", "99 Low", "100 Continue", "600 X", "200 a\r\nb", 200]
  ) {
    assert.equal(start(bad), "SR-2", String(bad));
  }
  for (
    const good of ["200 OK", "404 ", "599 Custom Thing", "200 \u00c7a va", "418 I'm a\tteapot"]
  ) {
    assert.equal(start(good), "none", good);
  }
});

Deno.test("SR-2: the reason phrase follows the engine's rule (no CTL but HTAB, only latin-1)", () => {
  for (const bad of ["200 a\x7fb", "200 a\x00b", "200 \u0100", "200 line\nfeed"]) {
    assert.equal(start(bad), "SR-2", JSON.stringify(bad));
  }
  assert.equal(start("200 \xff\x80 ~"), "none");
});

Deno.test("SR-3: headers must be an Array of [name, value] string pairs", () => {
  for (const bad of [{}, "x: y", [["a"]], [["a", "b", "c"]], [["a", 1]], [null]]) {
    assert.equal(start("200 OK", bad), "SR-3", JSON.stringify(bad));
  }
  assert.equal(start("200 OK", []), "none");
});

Deno.test("SR-4: header names must be tokens", () => {
  for (const name of ["Bad Name", "Bad:Name", "", "X\u00e9", "A\r\nB"]) {
    assert.equal(start("200 OK", [[name, "v"]]), "SR-4", name);
  }
  assert.equal(start("200 OK", [["X-Ok_!#$%&'*+.^`|~1", "v"]]), "none");
});

Deno.test("SR-5: header values may hold no CTL except HTAB, and only latin-1", () => {
  for (const value of ["a\r\nSet-Cookie: x", "a\nb", "a\rb", "nul\0", "del\x7f", "euro €"]) {
    assert.equal(start("200 OK", [["X-V", value]]), "SR-5", JSON.stringify(value));
  }
  assert.equal(start("200 OK", [["X-V", "tab\there caf\u00e9"]]), "none");
});

Deno.test("SR-6: hop-by-hop header fields are rejected", () => {
  const names = [
    "Connection",
    "keep-alive",
    "Proxy-Authenticate",
    "PROXY-AUTHORIZATION",
    "TE",
    "Trailer",
    "Trailers",
    "Transfer-Encoding",
    "Upgrade",
  ];
  for (const name of names) assert.equal(start("200 OK", [[name, "x"]]), "SR-6", name);
});

Deno.test("SR-7: startResponse checks the rules when it is called", async () => {
  let thrownAt = "";
  const r = await run((_e, sr) => {
    try {
      sr("200 OK", [["Connection", "close"]]);
    } catch (err) {
      thrownAt = (err as AppContractError).rule;
    }
    sr("200 OK", OK);
    return [];
  });
  assert.equal(thrownAt, "SR-6");
  assert.equal(r.error, undefined, "the failed call did not count as a call");
  const engine = await run((_e, sr) => {
    sr("200 OK", OK);
    return [bytes("x")];
  }, { headError: "content-length-digits" });
  assert.ok(engine.error instanceof AppContractError && engine.error.rule === "SR-7");
});

Deno.test("SR-8: startResponse sends nothing; headers go with the first non-empty chunk", async () => {
  const fake = fakeExchange();
  const seen: string[][] = [];
  const r = await runOn(fake, (_e, sr) => {
    sr("200 OK", OK);
    seen.push([...fake.rec.calls]);
    return (async function* () {
      yield new Uint8Array(0);
      seen.push([...fake.rec.calls]);
      yield bytes("data");
    })();
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(seen, [[], []]);
  assert.deepEqual(r.rec.calls, ["head", "write", "end"]);
  const empty = await run(async (_e, sr) => {
    sr("204 No Content", []);
    await Promise.resolve();
    return [];
  });
  assert.deepEqual(empty.rec.calls, ["head", "end"]);
});

Deno.test("SR-9: a second call without excInfo is a contract error", () => {
  const { startResponse } = createStartResponse();
  startResponse("200 OK", OK);
  assert.equal(rule(() => startResponse("200 OK", OK)), "SR-9");
  assert.equal(rule(() => startResponse("500 Oops", OK, null)), "SR-9");
});

Deno.test("SR-10: a call with excInfo before the headers were sent replaces them", async () => {
  const r = await run((_e, sr) => {
    sr("200 OK", OK);
    try {
      throw new Error("late failure");
    } catch (err) {
      sr("503 Service Unavailable", [["Retry-After", "1"]], err);
      return [bytes("try later")];
    }
  });
  assert.equal(r.error, undefined);
  assert.equal(r.rec.heads.length, 1);
  assert.equal(r.rec.heads[0].status, 503);
  assert.equal(r.rec.heads[0].reason, "Service Unavailable");
  assert.deepEqual(r.rec.heads[0].headers[0], ["Retry-After", "1"]);
});

Deno.test("SR-11: a call with excInfo after the headers were sent throws excInfo", async () => {
  const original = new Error("after headers");
  let rethrown: unknown;
  await run(async (_e, sr) => {
    const write = sr("200 OK", OK);
    await write(bytes("partial"));
    try {
      sr("500 Internal Server Error", [], original);
    } catch (err) {
      rethrown = err;
    }
    return [];
  });
  assert.equal(rethrown, original);
});

Deno.test("SR-12: the server keeps no reference to excInfo", () => {
  const { startResponse, state } = createStartResponse();
  const excInfo = new Error("keep me not");
  startResponse("200 OK", OK);
  startResponse("500 Internal Server Error", [], excInfo);
  const values: unknown[] = Object.values(state).flatMap((v) => Array.isArray(v) ? v.flat() : [v]);
  assert.ok(!values.includes(excInfo));
  assert.equal(state.statusCode, 500);
});

Deno.test("SR-14: startResponse returns the write function", async () => {
  let write: Write | undefined;
  const r = await run(async (_e, sr) => {
    write = sr("200 OK", OK);
    await write(bytes("via write"));
    return [];
  });
  assert.equal(typeof write, "function");
  assert.equal(r.text(), "via write");
});

Deno.test("WR-1: write() must be given a Uint8Array", async () => {
  let got = "";
  await run((_e, sr) => {
    const write = sr("200 OK", OK);
    got = rule(() => write("text" as unknown as Uint8Array));
    return [];
  });
  assert.equal(got, "WR-1");
});

Deno.test("WR-2: written data reaches the connection before write() resolves", async () => {
  const fake = fakeExchange({ writes: "backpressure" });
  const order: string[] = [];
  await runOn(fake, async (_e, sr) => {
    const write = sr("200 OK", OK);
    await write(bytes("one"));
    order.push(...fake.rec.calls);
    return [];
  });
  assert.deepEqual(order, ["head", "write", "resolved"]);
});

Deno.test("WR-3: body chunks go out after the data given to write()", async () => {
  const r = await run((_e, sr) => {
    const write = sr("200 OK", OK);
    void write(bytes("a"));
    void write(bytes("b"));
    return [bytes("c"), bytes("d")];
  });
  assert.equal(r.text(), "abcd");
});

Deno.test("WR-4: write() after the response ended rejects", async () => {
  let write: Write | undefined;
  const r = await run((_e, sr) => {
    write = sr("200 OK", OK);
    return [bytes("done")];
  });
  assert.equal(r.error, undefined);
  await assert.rejects(() => write!(bytes("late")), (err: unknown) => {
    return err instanceof AppContractError && err.rule === "WR-4";
  });
});

Deno.test("WR-5: write() of an empty chunk sends nothing, not even the headers", async () => {
  const fake = fakeExchange();
  const seen: string[] = [];
  const r = await runOn(fake, async (_e, sr) => {
    const write = sr("200 OK", OK);
    await write(new Uint8Array(0));
    seen.push(...fake.rec.calls);
    return [bytes("x")];
  });
  assert.deepEqual(seen, []);
  assert.deepEqual(r.rec.calls, ["head", "write", "end"]);
});
