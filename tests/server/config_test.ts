/**
 * The settings table drives parsing, defaults and --help (server/config.ts).
 */
import assert from "node:assert/strict";
import {
  boundsOf,
  ConfigError,
  DEFAULTS,
  helpText,
  limitsOf,
  parseCli,
  SETTINGS,
} from "../../server/config.ts";

function run(args: string[], env: Record<string, string> = {}) {
  const r = parseCli(args, env);
  assert.equal(r.kind, "run");
  return r as Extract<typeof r, { kind: "run" }>;
}

Deno.test("parses an app spec with defaults", () => {
  const r = run(["apps/hello.ts:app"]);
  assert.equal(r.appSpec, "apps/hello.ts:app");
  assert.equal(r.config.host, "127.0.0.1");
  assert.equal(r.config.port, 8000);
  assert.equal(r.config.maxHeadBytes, DEFAULTS.maxHeadBytes);
});

Deno.test("every setting has a default, a flag and documentation", () => {
  const flags = new Set<string>();
  for (const s of SETTINGS) {
    assert.ok(s.key in DEFAULTS, `${s.key} has no default`);
    assert.ok(s.doc.length > 10, `${s.key} lacks documentation`);
    assert.ok(!flags.has(s.flag), `duplicate flag ${s.flag}`);
    flags.add(s.flag);
  }
  for (const key of Object.keys(DEFAULTS)) {
    assert.ok(SETTINGS.some((s) => s.key === key), `${key} is not in the settings table`);
  }
});

Deno.test("accepts --flag value, --flag=value and short flags", () => {
  const r = run(["--port", "9000", "--max-body-bytes=10", "-w", "3", "app.ts"]);
  assert.equal(r.config.port, 9000);
  assert.equal(r.config.maxBodyBytes, 10);
  assert.equal(r.config.workers, 3);
});

Deno.test("booleans take --flag and --no-flag", () => {
  assert.equal(run(["--validate", "a.ts"]).config.validate, true);
  assert.equal(run(["--validate", "--no-validate", "a.ts"]).config.validate, false);
});

Deno.test("repeatable --bind collects values", () => {
  const r = run(["-b", "127.0.0.1:1", "--bind", "unix:/tmp/x", "a.ts"]);
  assert.deepEqual(r.config.bind, ["127.0.0.1:1", "unix:/tmp/x"]);
});

Deno.test("reads PORT and WEB_CONCURRENCY; flags win over the environment", () => {
  assert.equal(run(["a.ts"], { PORT: "1234" }).config.port, 1234);
  assert.equal(run(["--port", "1", "a.ts"], { PORT: "1234" }).config.port, 1);
  assert.equal(run(["a.ts"], { WEB_CONCURRENCY: "4" }).config.workers, 4);
});

Deno.test("rejects bad values with ConfigError", () => {
  const bad = [
    ["--port", "-1", "a.ts"],
    ["--port", "70000", "a.ts"],
    ["--port", "12x", "a.ts"],
    ["--log-level", "loud", "a.ts"],
    ["--bogus", "a.ts"],
    ["--port"],
    [],
    ["a.ts", "b.ts"],
    ["--certfile", "c.pem", "a.ts"],
    ["--max-request-line-bytes", "99999", "--max-head-bytes", "1024", "a.ts"],
    ["--health-path", "health", "a.ts"],
    ["--root-path", "/api/", "a.ts"],
    ["-x", "a.ts"],
  ];
  for (const args of bad) {
    assert.throws(() => parseCli(args, {}), ConfigError, args.join(" "));
  }
  assert.throws(() => parseCli(["a.ts"], { PORT: "abc" }), ConfigError);
});

Deno.test("--help and --version short-circuit", () => {
  assert.equal(parseCli(["--help"]).kind, "help");
  assert.equal(parseCli(["-V", "x"]).kind, "version");
});

Deno.test("help text lists every flag with its default", () => {
  const text = helpText("9.9.9");
  for (const s of SETTINGS) assert.ok(text.includes(`--${s.flag}`), s.flag);
  assert.ok(text.includes("9.9.9"));
});

Deno.test("every default lies within its row's bounds or choices", () => {
  for (const s of SETTINGS) {
    if (s.type === "int") {
      assert.ok(s.min <= s.default && s.default <= s.max, `${s.key} default out of bounds`);
    } else if (s.type === "enum") {
      assert.ok(s.choices.includes(s.default), `${s.key} default is not a choice`);
    }
    assert.deepEqual(DEFAULTS[s.key as keyof typeof DEFAULTS], s.default, s.key);
  }
});

Deno.test("Limits are the rows marked parserLimit, read from a Config", () => {
  const limits = limitsOf({ ...DEFAULTS, maxHeadBytes: 999, port: 1 });
  assert.deepEqual(Object.keys(limits), [
    "maxRequestLineBytes",
    "maxHeadBytes",
    "maxHeaderCount",
    "maxBodyBytes",
    "maxChunkLineBytes",
    "maxTrailerBytes",
  ]);
  assert.equal(limits.maxHeadBytes, 999);
});

Deno.test("engine tunables are settings with bounds", () => {
  const r = run([
    "--write-high-water-bytes=131072",
    "--idle-read-buffer-bytes=4096",
    "--timeout-check-interval-ms=100",
    "--quiesce-timeout-ms=0",
    "--websocket-max-message-bytes=1024",
    "a.ts",
  ]);
  assert.equal(r.config.writeHighWaterBytes, 131072);
  assert.equal(r.config.idleReadBufferBytes, 4096);
  assert.equal(r.config.timeoutCheckIntervalMs, 100);
  assert.equal(r.config.quiesceTimeoutMs, 0);
  assert.equal(r.config.websocketMaxMessageBytes, 1024);
  assert.equal(boundsOf("workers").max, 1024);
  assert.throws(() => boundsOf("host"), TypeError);
  for (const bad of ["--write-high-water-bytes=10", "--timeout-check-interval-ms=0"]) {
    assert.throws(() => parseCli([bad, "a.ts"]), ConfigError, bad);
  }
});
