// The contract validator (gateway/validate.ts): every rule it enforces is broken once, on the
// app's side (through the real gateway runner and a fake exchange) or on the server's side (a
// hand-broken environ, startResponse, input or body consumer).
import assert from "node:assert/strict";
import { AppContractError } from "../../gateway/errors.ts";
import { buildEnviron } from "../../gateway/environ.ts";
import { createInput } from "../../gateway/input.ts";
import { createStartResponse } from "../../gateway/start_response.ts";
import type { App, Environ, Input, ResponseBody, StartResponse } from "../../gateway/types.ts";
import { validateApp } from "../../gateway/validate.ts";
import { bytes, fakeExchange, run } from "./_fake_exchange.ts";

const OK: [string, string][] = [["Content-Type", "text/plain"]];
const HELLO = bytes("hello");

/** Runs `app` under the validator; asserts a 500-worthy AppContractError naming `rule`. */
async function assertBroken(rule: string, app: App, options = {}): Promise<void> {
  const r = await run(validateApp(app, { warn: () => {} }), options);
  assert.ok(r.error instanceof AppContractError, `${rule}: expected a contract error`);
  assert.equal((r.error as AppContractError).rule, rule);
  assert.ok(
    r.rec.logs.some(([level, msg]) =>
      level === "error" && msg.includes(`broken gateway rule ${rule}`)
    ),
    `${rule}: a log line names the rule`,
  );
  assert.equal(r.rec.chunks.length, 0, `${rule}: nothing was sent`);
}

/** A good environ and startResponse for server-side tests. */
function parts(body: string[] = []) {
  const fake = fakeExchange({ method: body.length ? "POST" : "GET", body });
  const environ = buildEnviron(fake.ex, { rootPath: "", workers: 1 }, createInput(fake.ex.body));
  const { startResponse, state } = createStartResponse();
  return { environ, startResponse, state, fake };
}

/** Calls the validated `app` with a broken environ or startResponse; expects `rule`. */
function assertServerBroken(
  rule: string,
  environ: Environ,
  startResponse: StartResponse,
  app: App = (_e, sr) => {
    sr("200 OK", OK);
    return [HELLO];
  },
): void {
  assert.throws(
    () => validateApp(app, { warn: () => {} })(environ, startResponse),
    (err: unknown) => {
      assert.ok(err instanceof AppContractError, `${rule}: ${err}`);
      assert.equal(err.rule, rule);
      return true;
    },
  );
}

const ok: App = (_e, sr) => {
  sr("200 OK", OK);
  return [HELLO];
};

Deno.test("validate: a conforming app passes unchanged, including write() and input reads", async () => {
  const app: App = async (environ, sr) => {
    const input = environ["lsbaws.input"];
    const first = await input.read(3);
    const line = await input.readline();
    const rest = await input.read();
    const write = sr("200 OK", OK);
    await write(first);
    environ["lsbaws.errors"].write("note\n");
    return [line, rest];
  };
  const warnings: string[] = [];
  const r = await run(validateApp(app, { warn: (m) => warnings.push(m) }), {
    method: "POST",
    body: ["abcdef\n", "gh"],
  });
  assert.equal(r.error, undefined);
  assert.equal(r.text(), "abcdef\ngh");
  assert.deepEqual(warnings, []);
  assert.ok(r.rec.logs.some(([, m]) => m === "note"));
});

// ---- the app's side ----

Deno.test("validate: APP-1 the app must be a function", () => {
  assert.throws(() => validateApp(42 as unknown as App), (e: unknown) => {
    return e instanceof AppContractError && e.rule === "APP-1";
  });
});

Deno.test("validate: APP-2 returning undefined", async () => {
  await assertBroken("APP-2", (_e, sr) => {
    sr("200 OK", OK);
    return undefined as unknown as ResponseBody;
  });
});

Deno.test("validate: SR-1 data before startResponse", async () => {
  await assertBroken("SR-1", () => [HELLO]);
  await assertBroken("SR-1", () => []);
});

Deno.test("validate: SR-2 a status that is not NNN Reason", async () => {
  await assertBroken("SR-2", (_e, sr) => {
    sr("OK", OK);
    return [HELLO];
  });
  await assertBroken("SR-2", (_e, sr) => {
    sr("100 Continue", OK);
    return [HELLO];
  });
});

Deno.test("validate: SR-3 headers not an Array of pairs", async () => {
  await assertBroken("SR-3", (_e, sr) => {
    sr("200 OK", { "Content-Type": "text/plain" } as unknown as [string, string][]);
    return [HELLO];
  });
  await assertBroken("SR-3", (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain", "x"]] as unknown as [string, string][]);
    return [HELLO];
  });
});

Deno.test("validate: SR-4 a header name that is not a token", async () => {
  await assertBroken("SR-4", (_e, sr) => {
    sr("200 OK", [["Bad Name", "x"]]);
    return [HELLO];
  });
});

Deno.test("validate: SR-5 a header value with a newline", async () => {
  await assertBroken("SR-5", (_e, sr) => {
    sr("200 OK", [["X-A", "a\r\nSet-Cookie: x"]]);
    return [HELLO];
  });
});

Deno.test("validate: SR-6 a hop-by-hop header", async () => {
  await assertBroken("SR-6", (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"], ["Transfer-Encoding", "chunked"]]);
    return [HELLO];
  });
});

Deno.test("validate: SR-9 a second startResponse without excInfo", async () => {
  await assertBroken("SR-9", (_e, sr) => {
    sr("200 OK", OK);
    sr("404 Not Found", OK);
    return [HELLO];
  });
});

Deno.test("validate: SR-10 a second call with excInfo before sending is allowed", async () => {
  const r = await run(
    validateApp((_e, sr) => {
      sr("200 OK", OK);
      sr("500 Oops", OK, new Error("x"));
      return [HELLO];
    }, { warn: () => {} }),
  );
  assert.equal(r.error, undefined);
  assert.equal(r.rec.heads[0].status, 500);
});

Deno.test("validate: violations are sticky even when the app catches them", async () => {
  await assertBroken("SR-2", (_e, sr) => {
    try {
      sr("bad", OK);
    } catch {
      // swallowed: the validator still fails the request
    }
    sr("200 OK", OK);
    return [HELLO];
  });
});

Deno.test("validate: WR-1 write() of a string", async () => {
  await assertBroken("WR-1", async (_e, sr) => {
    const write = sr("200 OK", OK);
    await write("text" as unknown as Uint8Array);
    return [];
  });
});

Deno.test("validate: WR-4 write() after the response ended is logged", async () => {
  let late: (() => Promise<void>) | undefined;
  const logged: string[] = [];
  const app: App = (_e, sr) => {
    const write = sr("200 OK", OK);
    late = () => write(HELLO);
    return [HELLO];
  };
  const r = await run(validateApp(app, { warn: (m) => logged.push(m) }));
  assert.equal(r.error, undefined);
  await assert.rejects(late!(), (e: unknown) => e instanceof AppContractError && e.rule === "WR-4");
  assert.ok(logged.some((m) => m.includes("rule WR-4")), logged.join("\n"));
});

Deno.test("validate: BODY-1 a body of the wrong shape", async () => {
  await assertBroken("BODY-1", (_e, sr) => {
    sr("200 OK", OK);
    return 42 as unknown as ResponseBody;
  });
});

Deno.test("validate: BODY-2 a string chunk", async () => {
  await assertBroken("BODY-2", (_e, sr) => {
    sr("200 OK", OK);
    return ["text"] as unknown as ResponseBody;
  });
  await assertBroken("BODY-2", (_e, sr) => {
    sr("200 OK", OK);
    return "text" as unknown as ResponseBody;
  });
});

Deno.test("validate: IN-1 read() with a size that is not a number", async () => {
  await assertBroken("IN-1", async (environ, sr) => {
    await environ["lsbaws.input"].read("10" as unknown as number);
    sr("200 OK", OK);
    return [];
  }, { method: "POST", body: ["abc"] });
});

Deno.test("validate: IN-7 closing lsbaws.input", async () => {
  await assertBroken("IN-7", (environ, sr) => {
    (environ["lsbaws.input"] as Input & { close(): void }).close();
    sr("200 OK", OK);
    return [];
  });
});

Deno.test("validate: ERR-1 writing bytes to lsbaws.errors", async () => {
  await assertBroken("ERR-1", (environ, sr) => {
    environ["lsbaws.errors"].write(HELLO as unknown as string);
    sr("200 OK", OK);
    return [];
  });
});

Deno.test("validate: ERR-2 writelines() with a non-string item", async () => {
  await assertBroken("ERR-2", (environ, sr) => {
    environ["lsbaws.errors"].writelines([42 as unknown as string]);
    sr("200 OK", OK);
    return [];
  });
});

Deno.test("validate: wsgiref's warnings (no Content-Type, Status header, unknown method)", async () => {
  const warnings: string[] = [];
  const app: App = (_e, sr) => {
    sr("200 OK", [["Status", "200"], ["X-Trailing-", "x"]]);
    return [HELLO];
  };
  const r = await run(validateApp(app, { warn: (m) => warnings.push(m) }), { method: "BREW" });
  assert.equal(r.error, undefined);
  const text = warnings.join("\n");
  assert.match(text, /unknown REQUEST_METHOD "BREW"/);
  assert.match(text, /header named Status/);
  assert.match(text, /ends in "-" or "_"/);
  assert.match(text, /no Content-Type on a 200/);
});

// ---- the server's side ----

Deno.test("validate: APP-3 an environ that is not a plain object", () => {
  const { environ, startResponse } = parts();
  class Env {}
  assertServerBroken("APP-3", Object.assign(new Env(), environ) as Environ, startResponse);
});

/** Each case breaks one environ rule by changing one key (undefined deletes it). */
const ENVIRON_CASES: Array<[string, Record<string, unknown>]> = [
  ["ENV-1", { REQUEST_METHOD: "" }],
  ["ENV-2", { SCRIPT_NAME: "/" }],
  ["ENV-3", { PATH_INFO: "no-slash" }],
  ["ENV-7", { QUERY_STRING: undefined }],
  ["ENV-8", { CONTENT_LENGTH: "-1" }],
  ["ENV-8", { HTTP_CONTENT_TYPE: "text/plain" }],
  ["ENV-9", { "HTTP_x-lower": "v" }],
  ["ENV-12", { SERVER_NAME: "" }],
  ["ENV-13", { SERVER_PROTOCOL: "HTTP/2" }],
  ["ENV-14", { REMOTE_PORT: "port" }],
  ["ENV-15", { HTTPS: "on" }],
  ["ENV-16", { HTTP_X_SNOWMAN: "\u2603" }],
  ["ENV-16", { SERVER_PORT_NUMBER: 8080 }],
  ["ENV-17", { REMOTE_USER: "" }],
  ["LS-1", { "lsbaws.version": [1, 1] }],
  ["LS-2", { "lsbaws.url_scheme": "ftp" }],
  ["LS-3", { "lsbaws.input": {} }],
  ["LS-4", { "lsbaws.errors": { write() {} } }],
  ["LS-5", { "lsbaws.multithread": false }],
  ["LS-6", { "lsbaws.multiprocess": "no" }],
  ["LS-7", { "lsbaws.run_once": true }],
  ["LS-8", { "lsbaws.raw_uri": 1 }],
  ["LS-9", { "lsbaws.request_id": "" }],
  ["LS-10", { "lsbaws.signal": {} }],
];

for (const [rule, change] of ENVIRON_CASES) {
  const what = Object.entries(change).map(([k, v]) =>
    `${k}=${v === undefined ? "(absent)" : JSON.stringify(v)}`
  );
  Deno.test(`validate: ${rule} (server) environ ${what.join(", ")}`, () => {
    const { environ, startResponse } = parts();
    for (const [key, value] of Object.entries(change)) {
      if (value === undefined) delete environ[key];
      else Object.defineProperty(environ, key, { value, enumerable: true, writable: true });
    }
    assertServerBroken(rule, environ, startResponse);
  });
}

Deno.test("validate: SR-11 (server) excInfo after the headers were sent must be rethrown", async () => {
  const { environ } = parts();
  const lenient: StartResponse = () => () => Promise.resolve();
  const app: App = (_e, sr) => {
    sr("200 OK", OK);
    return (function* () {
      yield HELLO;
      sr("500 Oops", OK, new Error("late"));
    })();
  };
  const body = validateApp(app, { warn: () => {} })(environ, lenient) as AsyncIterable<unknown>;
  const it = body[Symbol.asyncIterator]();
  await it.next();
  await assert.rejects(
    it.next(),
    (e: unknown) => e instanceof AppContractError && e.rule === "SR-11",
  );
});

Deno.test("validate: SR-14 (server) startResponse must return write()", () => {
  const { environ } = parts();
  assertServerBroken("SR-14", environ, (() => undefined) as unknown as StartResponse);
});

Deno.test("validate: WR-2 (server) write() must return a Promise", async () => {
  const { environ } = parts();
  const sr = (() => () => undefined) as unknown as StartResponse;
  const app: App = async (_e, startResponse) => {
    await startResponse("200 OK", OK)(HELLO);
    return [];
  };
  await assert.rejects(
    Promise.resolve(validateApp(app, { warn: () => {} })(environ, sr)),
    (e: unknown) => e instanceof AppContractError && e.rule === "WR-2",
  );
});

/** An environ whose input is replaced by `input`. */
function withInput(input: Partial<Input>): Environ {
  const { environ } = parts(["abc\n", "def"]);
  const real = environ["lsbaws.input"];
  environ["lsbaws.input"] = {
    read: input.read ?? ((n) => real.read(n)),
    readline: input.readline ?? ((n) => real.readline(n)),
    readlines: input.readlines ?? ((n) => real.readlines(n)),
    [Symbol.asyncIterator]: input[Symbol.asyncIterator] ?? (() => real[Symbol.asyncIterator]()),
    get stream() {
      return Object.getOwnPropertyDescriptor(input, "stream")?.get?.() ?? real.stream;
    },
  } as Input;
  return environ;
}

/** Runs a reading app against a broken input; expects `rule`. */
async function assertInputBroken(
  rule: string,
  input: Partial<Input>,
  read: (i: Input) => Promise<unknown>,
) {
  const { startResponse } = parts();
  const app: App = async (environ, sr) => {
    await read(environ["lsbaws.input"]);
    sr("200 OK", OK);
    return [];
  };
  await assert.rejects(
    Promise.resolve(validateApp(app, { warn: () => {} })(withInput(input), startResponse)),
    (e: unknown) => {
      assert.ok(e instanceof AppContractError, String(e));
      assert.equal(e.rule, rule);
      assert.match(e.message, /\(server\)/);
      return true;
    },
  );
}

Deno.test("validate: IN-1 (server) read(n) returning more than n bytes or a string", async () => {
  await assertInputBroken(
    "IN-1",
    { read: () => Promise.resolve(bytes("abcdef")) },
    (i) => i.read(2),
  );
  await assertInputBroken(
    "IN-1",
    { read: () => Promise.resolve("abc" as unknown as Uint8Array) },
    (i) => i.read(),
  );
});

Deno.test("validate: IN-2 (server) data after the end of the body", async () => {
  await assertInputBroken("IN-2", { read: () => Promise.resolve(bytes("x")) }, async (i) => {
    await i.read(5); // one byte: the body ended
    await i.read(5);
  });
});

Deno.test("validate: IN-3 (server) readline() returning more than one line", async () => {
  await assertInputBroken(
    "IN-3",
    { readline: () => Promise.resolve(bytes("a\nb\n")) },
    (i) => i.readline(),
  );
});

Deno.test("validate: IN-4 (server) readlines() not returning an Array of lines", async () => {
  await assertInputBroken(
    "IN-4",
    { readlines: () => Promise.resolve(bytes("a\n") as unknown as Uint8Array[]) },
    (i) => i.readlines(),
  );
});

Deno.test("validate: IN-5 (server) iteration yielding an empty line", async () => {
  await assertInputBroken("IN-5", {
    async *[Symbol.asyncIterator]() {
      yield new Uint8Array(0);
    },
  }, async (i) => {
    for await (const _ of i) break;
  });
});

Deno.test("validate: IN-6 (server) stream must be the same object each time", async () => {
  await assertInputBroken("IN-6", {
    get stream() {
      return new ReadableStream<Uint8Array>();
    },
  }, (i) => Promise.resolve([i.stream, i.stream]));
});

/** The validated body of a trivial app, for driving it like a (broken) server. */
function validatedBody(releaseGraceMs = 1000, warn = (_: string) => {}) {
  const { environ, startResponse } = parts();
  const body = validateApp(ok, { warn, releaseGraceMs })(environ, startResponse) as
    & AsyncIterable<Uint8Array>
    & { close(): unknown };
  return { body, it: body[Symbol.asyncIterator]() };
}

Deno.test("validate: BODY-3 (server) pulling the next chunk before the last one arrived", async () => {
  const { body, it } = validatedBody();
  const first = it.next();
  await assert.rejects(
    it.next(),
    (e: unknown) => e instanceof AppContractError && e.rule === "BODY-3",
  );
  await first.catch(() => {}); // violations are sticky: the pending pull fails too
  body.close();
});

Deno.test("validate: BODY-5 (server) pulled after release, released twice, never released", async () => {
  const a = validatedBody();
  a.body.close();
  await assert.rejects(
    a.it.next(),
    (e: unknown) => e instanceof AppContractError && e.rule === "BODY-5",
  );

  const logged: string[] = [];
  const b = validatedBody(1000, (m) => logged.push(m));
  b.body.close();
  b.body.close();
  assert.ok(
    logged.some((m) => m.includes("BODY-5") && m.includes("released 2 times")),
    logged.join(),
  );

  const warned: string[] = [];
  const c = validatedBody(10, (m) => warned.push(m));
  while (!(await c.it.next()).done);
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(warned.some((m) => m.includes("BODY-5") && m.includes("not released")), warned.join());
});

Deno.test("validate: the runner releases the validated body exactly once", async () => {
  const warned: string[] = [];
  const r = await run(validateApp(ok, { warn: (m) => warned.push(m), releaseGraceMs: 10 }));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(r.error, undefined);
  assert.deepEqual(warned, []);
});
