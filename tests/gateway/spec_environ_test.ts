// Gateway spec, sections 2 and 3 (ENV-*, LS-*): one test per rule of gateway/types.ts.
import assert from "node:assert/strict";
import { buildEnviron, decodeByteString } from "../../gateway/environ.ts";
import { AppContractError } from "../../gateway/errors.ts";
import { createInput } from "../../gateway/input.ts";
import type { Environ } from "../../gateway/types.ts";
import { ResponseError } from "../../server/http/errors.ts";
import { fakeExchange, type FakeOptions } from "./_fake_exchange.ts";

function envOf(options: FakeOptions = {}, config = { rootPath: "", workers: 1 }): Environ {
  const { ex } = fakeExchange(options);
  return buildEnviron(ex, config, createInput(ex.body));
}

Deno.test("ENV-1: REQUEST_METHOD is the method with its case preserved", () => {
  assert.equal(envOf({ method: "PATCH" }).REQUEST_METHOD, "PATCH");
  assert.equal(envOf({ method: "purge" }).REQUEST_METHOD, "purge");
});

Deno.test("ENV-2: SCRIPT_NAME is rootPath without a trailing slash", () => {
  const cases: Array<[string, string]> = [["", ""], ["/", ""], ["/api/", "/api"], ["api", "/api"]];
  for (const [rootPath, expected] of cases) {
    assert.equal(envOf({}, { rootPath, workers: 1 }).SCRIPT_NAME, expected, rootPath);
  }
});

Deno.test("ENV-2: a prefix the proxy removed comes first in SCRIPT_NAME, decoded as ENV-3", () => {
  const { ex } = fakeExchange({ target: "/api/users" });
  const proxied = { ...ex, forwardedPrefix: "/caf%C3%A9" };
  const env = buildEnviron(proxied, { rootPath: "/api", workers: 1 }, createInput(ex.body));
  assert.equal(env.SCRIPT_NAME, "/caf\u00c3\u00a9/api");
  assert.equal(env.PATH_INFO, "/users", "ENV-4 removes only the rootPath part");
  const bare = buildEnviron(
    { ...ex, forwardedPrefix: "/shop" },
    { rootPath: "", workers: 1 },
    createInput(ex.body),
  );
  assert.deepEqual([bare.SCRIPT_NAME, bare.PATH_INFO], ["/shop", "/api/users"]);
  assert.equal(envOf({ target: "/x" }).SCRIPT_NAME, "", "no prefix: rootPath alone");
});

Deno.test("ENV-3: PATH_INFO is percent-decoded byte by byte into latin-1", () => {
  const env = envOf({ target: "/caf%C3%A9/a%2Fb/100%/%zz/%4" });
  assert.equal(env.PATH_INFO, "/caf\u00c3\u00a9/a/b/100%/%zz/%4");
  assert.equal(decodeByteString(env.PATH_INFO), "/café/a/b/100%/%zz/%4");
  assert.equal(envOf({ target: "/%ff%FE" }).PATH_INFO, "/\u00ff\u00fe");
});

Deno.test("ENV-4: the SCRIPT_NAME prefix is removed from PATH_INFO only at a segment boundary", () => {
  const config = { rootPath: "/api", workers: 1 };
  const cases: Array<[string, string]> = [
    ["/api/users", "/users"],
    ["/api", ""],
    ["/api/", "/"],
    ["/apix", "/apix"],
    ["/other", "/other"],
    ["/%61pi/x", "/x"],
  ];
  for (const [target, pathInfo] of cases) {
    const env = envOf({ target }, config);
    assert.equal(env.PATH_INFO, pathInfo, target);
    assert.equal(env.SCRIPT_NAME, "/api", target);
  }
});

Deno.test("ENV-5: an absolute-form target contributes only its path and query", () => {
  const env = envOf({ target: "http://example.com:81/a%20b?x=1" });
  assert.equal(env.PATH_INFO, "/a b");
  assert.equal(env.QUERY_STRING, "x=1");
  assert.equal(envOf({ target: "http://example.com" }).PATH_INFO, "/");
  const q = envOf({ target: "http://example.com?q" });
  assert.deepEqual([q.PATH_INFO, q.QUERY_STRING], ["/", "q"]);
});

Deno.test("ENV-6: asterisk form gives PATH_INFO '*' and authority form gives ''", () => {
  const star = envOf({ method: "OPTIONS", target: "*" });
  assert.deepEqual([star.PATH_INFO, star.QUERY_STRING], ["*", ""]);
  const connect = envOf({ method: "CONNECT", target: "example.com:443" });
  assert.deepEqual([connect.PATH_INFO, connect.QUERY_STRING], ["", ""]);
});

Deno.test("ENV-7: QUERY_STRING is the raw text after the first '?', always present", () => {
  assert.equal(envOf({ target: "/p?a=%20&b=1?c" }).QUERY_STRING, "a=%20&b=1?c");
  assert.equal(envOf({ target: "/p" }).QUERY_STRING, "");
  assert.equal(envOf({ target: "/p?" }).QUERY_STRING, "");
  assert.ok("QUERY_STRING" in envOf({ target: "/p" }));
});

Deno.test("ENV-8: Content-Type and Content-Length appear only as CONTENT_TYPE/CONTENT_LENGTH", () => {
  const env = envOf({
    method: "POST",
    headers: [["content-type", "text/plain"], ["content-length", "3"], ["content-type", "x/y"]],
    body: ["abc"],
  });
  assert.equal(env.CONTENT_TYPE, "text/plain");
  assert.equal(env.CONTENT_LENGTH, "3");
  assert.ok(!("HTTP_CONTENT_TYPE" in env));
  assert.ok(!("HTTP_CONTENT_LENGTH" in env));
  const bare = envOf();
  assert.ok(!("CONTENT_TYPE" in bare) && !("CONTENT_LENGTH" in bare));
});

Deno.test("ENV-9: other headers become HTTP_ + uppercase name with '-' as '_'", () => {
  const env = envOf({ headers: [["user-agent", "t/1"], ["x-forwarded-for", "10.0.0.1"]] });
  assert.equal(env.HTTP_USER_AGENT, "t/1");
  assert.equal(env.HTTP_X_FORWARDED_FOR, "10.0.0.1");
});

Deno.test("ENV-10: repeated fields are joined with ', ' and Cookie with '; '", () => {
  const env = envOf({
    headers: [["accept", "a/b"], ["cookie", "a=1"], ["accept", "c/d"], ["cookie", "b=2"]],
  });
  assert.equal(env.HTTP_ACCEPT, "a/b, c/d");
  assert.equal(env.HTTP_COOKIE, "a=1; b=2");
});

Deno.test("ENV-11: header names containing '_' are dropped", () => {
  const env = envOf({ headers: [["x-auth_user", "mallory"], ["x-auth-user", "alice"]] });
  assert.equal(env.HTTP_X_AUTH_USER, "alice");
  const only = envOf({ headers: [["x-auth_user", "mallory"]] });
  assert.ok(!Object.values(only).includes("mallory"));
});

Deno.test("ENV-12: SERVER_NAME and SERVER_PORT come from the exchange and are never empty", () => {
  const env = envOf({ serverName: "api.example.com", serverPort: "8443" });
  assert.deepEqual([env.SERVER_NAME, env.SERVER_PORT], ["api.example.com", "8443"]);
  const fallback = envOf({ serverName: "", serverPort: "" });
  assert.deepEqual([fallback.SERVER_NAME, fallback.SERVER_PORT], ["127.0.0.1", "8080"]);
});

Deno.test("ENV-13: SERVER_PROTOCOL is the request's version", () => {
  assert.equal(envOf({ version: "HTTP/1.0" }).SERVER_PROTOCOL, "HTTP/1.0");
  assert.equal(envOf().SERVER_PROTOCOL, "HTTP/1.1");
});

Deno.test("ENV-14: REMOTE_ADDR/REMOTE_PORT are the peer's; unix sockets omit the port", () => {
  const tcp = envOf();
  assert.deepEqual([tcp.REMOTE_ADDR, tcp.REMOTE_PORT], ["203.0.113.7", "50123"]);
  const unnamed = envOf({ remote: { transport: "unix", hostname: "", port: 0 } });
  assert.ok(!("REMOTE_ADDR" in unnamed) && !("REMOTE_PORT" in unnamed));
  const named = envOf({ remote: { transport: "unix", hostname: "/run/x.sock", port: 0 } });
  assert.equal(named.REMOTE_ADDR, "/run/x.sock");
  assert.ok(!("REMOTE_PORT" in named));
});

Deno.test("ENV-15: HTTPS is 'on' for https and absent for http", () => {
  assert.equal(envOf({ scheme: "https" }).HTTPS, "on");
  assert.ok(!("HTTPS" in envOf()));
});

Deno.test("ENV-16: every CGI value is a string of latin-1 code units", () => {
  const env = envOf(
    { target: "/%E2%82%AC?x=%E2", headers: [["x-latin", "caf\u00e9"], ["host", "h"]] },
    { rootPath: "/café", workers: 1 },
  );
  for (const [key, value] of Object.entries(env)) {
    if (key.includes(".")) continue;
    assert.equal(typeof value, "string", key);
    assert.ok(![...(value as string)].some((c) => c.charCodeAt(0) > 0xff), key);
  }
  assert.equal(env.SCRIPT_NAME, "/caf\u00c3\u00a9");
  assert.equal(decodeByteString(env.SCRIPT_NAME), "/café");
  assert.equal(decodeByteString(env.PATH_INFO), "/€");
});

Deno.test("ENV-17: variables that do not apply are absent; three keys are always present", () => {
  const env = envOf({}, { rootPath: "", workers: 1 });
  for (const key of ["REMOTE_USER", "HTTPS", "CONTENT_TYPE", "CONTENT_LENGTH", "AUTH_TYPE"]) {
    assert.ok(!(key in env), key);
  }
  for (const key of ["SCRIPT_NAME", "PATH_INFO", "QUERY_STRING"]) assert.ok(key in env, key);
  for (const [key, value] of Object.entries(env)) {
    if (!["SCRIPT_NAME", "QUERY_STRING"].includes(key)) assert.notEqual(value, "", key);
  }
});

Deno.test("LS-1: lsbaws.version is [1, 0]", () => {
  assert.deepEqual(envOf()["lsbaws.version"], [1, 0]);
});

Deno.test("LS-2: lsbaws.url_scheme is http or https", () => {
  assert.equal(envOf()["lsbaws.url_scheme"], "http");
  assert.equal(envOf({ scheme: "https" })["lsbaws.url_scheme"], "https");
});

Deno.test("LS-3: lsbaws.input is the request body", async () => {
  const env = envOf({ method: "POST", body: ["ab", "c"] });
  assert.equal(new TextDecoder().decode(await env["lsbaws.input"].read()), "abc");
});

Deno.test("LS-4: lsbaws.errors writes to the exchange's error log", () => {
  const { ex, rec } = fakeExchange();
  const env = buildEnviron(ex, { rootPath: "", workers: 1 }, createInput(ex.body));
  env["lsbaws.errors"].write("oops\n");
  assert.deepEqual(rec.logs, [["error", "oops"]]);
});

Deno.test("LS-5: lsbaws.multithread is true", () => {
  assert.equal(envOf()["lsbaws.multithread"], true);
});

Deno.test("LS-6: lsbaws.multiprocess is true only with more than one worker", () => {
  assert.equal(envOf({}, { rootPath: "", workers: 1 })["lsbaws.multiprocess"], false);
  assert.equal(envOf({}, { rootPath: "", workers: 4 })["lsbaws.multiprocess"], true);
});

Deno.test("LS-7: lsbaws.run_once is false", () => {
  assert.equal(envOf()["lsbaws.run_once"], false);
});

Deno.test("LS-8: lsbaws.raw_uri is the target exactly as received", () => {
  assert.equal(envOf({ target: "/a%2Fb?c=%20" })["lsbaws.raw_uri"], "/a%2Fb?c=%20");
});

Deno.test("LS-9: lsbaws.request_id is the exchange's request id, and the app may overwrite it", () => {
  const env = envOf({ requestId: "abc-123" });
  assert.equal(env["lsbaws.request_id"], "abc-123");
  assert.equal(JSON.parse(JSON.stringify(env))["lsbaws.request_id"], "abc-123");
  env["lsbaws.request_id"] = "mine";
  assert.equal(env["lsbaws.request_id"], "mine");
});

Deno.test("LS-10: lsbaws.signal aborts when the client goes away", () => {
  const fake = fakeExchange();
  const env = buildEnviron(fake.ex, { rootPath: "", workers: 1 }, createInput(fake.ex.body));
  assert.equal(env["lsbaws.signal"].aborted, false);
  fake.abort();
  assert.equal(env["lsbaws.signal"].aborted, true);
});

Deno.test("LS-11: lsbaws.file_wrapper wraps a file, a path or a URL as an iterable that closes it", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/f.txt`;
  Deno.writeTextFileSync(path, "0123456789");
  try {
    const wrap = envOf()["lsbaws.file_wrapper"];
    assert.equal(typeof wrap, "function");
    const file = Deno.openSync(path);
    file.seekSync(3, Deno.SeekMode.Start);
    const w = wrap(file, 4);
    assert.equal(w.file, file);
    assert.equal(w.blockSize, 4);
    const chunks = [...w].map((c) => new TextDecoder().decode(c));
    assert.deepEqual(chunks, ["3456", "789"]);
    w.close();
    w.close(); // idempotent
    assert.throws(() => file.statSync(), Deno.errors.BadResource);
    const byPath = wrap(path);
    assert.equal(byPath.blockSize, 64 * 1024);
    assert.deepEqual([...byPath].map((c) => c.length), [10]);
    byPath.close();
    const byUrl = wrap(new URL(`file://${path}`), 5);
    assert.equal([...byUrl].length, 2);
    byUrl.close();
    assert.throws(() => wrap(`${dir}/missing`), Deno.errors.NotFound);
    assert.throws(() => wrap(path, 0), TypeError);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("LS-12: lsbaws.early_hints hands checked pairs to the server and says whether they went out", () => {
  // Under a server that cannot send interim responses (no earlyHints: an adapter), it is false.
  assert.equal(envOf()["lsbaws.early_hints"]([["Link", "</a.css>; rel=preload"]]), false);
  const fake = fakeExchange();
  const sent: Array<ReadonlyArray<readonly [string, string]>> = [];
  let answer = true;
  const ex = Object.assign(fake.ex, {
    earlyHints(headers: ReadonlyArray<readonly [string, string]>): boolean {
      if (headers.some(([n]) => n.toLowerCase() === "server")) {
        throw new ResponseError("early-hints-field", "early hint header Server");
      }
      sent.push(headers);
      return answer;
    },
  });
  const hints = buildEnviron(ex, { rootPath: "", workers: 1 }, createInput(ex.body))[
    "lsbaws.early_hints"
  ];
  assert.equal(hints([["Link", "</a.css>; rel=preload"]]), true);
  answer = false; // e.g. an HTTP/1.0 client, or the final head already sent
  assert.equal(hints([]), false);
  assert.deepEqual(sent, [[["Link", "</a.css>; rel=preload"]], []]);
  for (const bad of [{ Link: "x" }, [["Link"]], [["Link", 1]], "Link: x"]) {
    assert.throws(
      () => hints(bad as unknown as Array<[string, string]>),
      (err: unknown) => err instanceof AppContractError && err.rule === "SR-3",
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => hints([["Server", "x"]]),
    (err: unknown) => err instanceof AppContractError && err.rule === "LS-12",
  );
  assert.equal(sent.length, 2, "nothing handed on for refused calls");
});
