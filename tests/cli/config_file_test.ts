/**
 * The config file (`--config FILE`, `$LSBAWS_CONFIG`) and `--print-config`: layering
 * (command line > environment > file > default) per setting, the value checks it shares with the
 * command line, errors naming file, line and key, and the printed sources. Driven through
 * `parseCli` with an in-memory file reader, through `main()` with injected dependencies, and once
 * end to end by spawning `main.ts`.
 */
import assert from "node:assert/strict";
import {
  type CliResult,
  closestSettingName,
  ConfigError,
  DEFAULTS,
  describeSource,
  EXIT_USAGE,
  isCliOnly,
  parseCli,
  printConfigText,
  SETTINGS,
} from "../../server/config.ts";
import { main, type MainDeps } from "../../main.ts";
import type { Server } from "../../server/serve.ts";

const root = new URL("../../", import.meta.url).pathname;

/** `parseCli` with files served from `files`. */
function parse(args: string[], files: Record<string, string>, env: Record<string, string> = {}) {
  return parseCli(args, env, (path) => {
    if (!(path in files)) throw new ConfigError(`no such file ${path}`);
    return files[path];
  });
}

function run(args: string[], files: Record<string, string>, env: Record<string, string> = {}) {
  const r = parse(args, files, env);
  assert.equal(r.kind, "run");
  return r as Extract<CliResult, { kind: "run" }>;
}

/** Asserts that parsing fails with a ConfigError whose message matches every pattern. */
function rejects(
  args: string[],
  files: Record<string, string>,
  ...patterns: RegExp[]
): void {
  assert.throws(() => parse(args, files), (err) => {
    assert.ok(err instanceof ConfigError, String(err));
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

/** A file setting `body` (an object's members), one per line from line 2. */
function file(...members: string[]): string {
  return `{\n${members.map((m) => `  ${m},`).join("\n")}\n}\n`;
}

Deno.test("an int, a bool, a string and a list each go cli > env > file > default", () => {
  const f = {
    "c.json": file(
      '"port": 9001',
      '"workers": 3',
      '"validate": true',
      '"serverHeader": "from-file"',
      '"forwardedAllowIps": "10.0.0.1"',
      '"bind": ["127.0.0.1:9101", "127.0.0.1:9102"]',
    ),
  };
  // default
  const d = run(["a.ts"], f);
  assert.equal(d.config.port, DEFAULTS.port);
  assert.equal(d.config.validate, false);
  assert.equal(d.config.serverHeader, "lsbaws");
  assert.deepEqual(d.config.bind, []);
  assert.equal(d.sources.port.kind, "default");
  // file > default
  const fl = run(["--config", "c.json", "a.ts"], f);
  assert.equal(fl.config.port, 9001);
  assert.equal(fl.config.workers, 3);
  assert.equal(fl.config.validate, true);
  assert.equal(fl.config.serverHeader, "from-file");
  assert.equal(fl.config.forwardedAllowIps, "10.0.0.1");
  assert.deepEqual(fl.config.bind, ["127.0.0.1:9101", "127.0.0.1:9102"]);
  assert.deepEqual(fl.sources.port, { kind: "file", path: "c.json", line: 2 });
  assert.deepEqual(fl.sources.bind, { kind: "file", path: "c.json", line: 7 });
  assert.equal(fl.sources.backlog.kind, "default");
  // env > file (only these rows have an environment variable)
  const env = { PORT: "9002", WEB_CONCURRENCY: "5", FORWARDED_ALLOW_IPS: "*" };
  const e = run(["--config", "c.json", "a.ts"], f, env);
  assert.equal(e.config.port, 9002);
  assert.equal(e.config.workers, 5);
  assert.equal(e.config.forwardedAllowIps, "*");
  assert.equal(e.config.validate, true, "no env: the file still applies");
  assert.deepEqual(e.sources.port, { kind: "env", name: "PORT" });
  // cli > env > file
  const c = run(
    [
      "--config",
      "c.json",
      "-p",
      "9003",
      "-w",
      "2",
      "--no-validate",
      "--server-header",
      "from-cli",
      "--forwarded-allow-ips=10.9.9.9",
      "--bind",
      "127.0.0.1:9201",
      "a.ts",
    ],
    f,
    env,
  );
  assert.equal(c.config.port, 9003);
  assert.equal(c.config.workers, 2);
  assert.equal(c.config.validate, false);
  assert.equal(c.config.serverHeader, "from-cli");
  assert.equal(c.config.forwardedAllowIps, "10.9.9.9");
  assert.deepEqual(c.config.bind, ["127.0.0.1:9201"], "the command line replaces the file's list");
  assert.deepEqual(c.sources.port, { kind: "cli", flag: "--port" });
  assert.deepEqual(c.sources.bind, { kind: "cli", flag: "--bind" });
});

Deno.test("the static list takes an array under either name; --static replaces it", () => {
  const f = {
    "s.json": '{"static": ["/a=pub", "/b=img"], "static-max-age": 60}',
    "k.json": '{"staticMounts": ["/k=dir"]}',
  };
  const fromFile = run(["--config", "s.json", "a.ts"], f);
  assert.deepEqual(fromFile.config.staticMounts, ["/a=pub", "/b=img"]);
  assert.equal(fromFile.config.staticMaxAgeSeconds, 60);
  assert.deepEqual(run(["--config", "k.json", "a.ts"], f).config.staticMounts, ["/k=dir"]);
  const cli = run(["--config", "s.json", "--static", "/c=x", "a.ts"], f);
  assert.deepEqual(cli.config.staticMounts, ["/c=x"]);
  assert.deepEqual(run(["a.ts"], f).config.staticMounts, []);
  rejects(
    ["--config", "t.json", "a.ts"],
    { "t.json": '{"static": "/a=pub"}' },
    /static: expected an array of strings, got string/,
  );
});

Deno.test("the file is named by --config or $LSBAWS_CONFIG; the flag wins", () => {
  const f = { "a.json": '{"port": 1111}', "b.json": '{"port": 2222}' };
  assert.equal(run(["--config", "a.json", "x.ts"], f).config.port, 1111);
  assert.equal(run(["--config=a.json", "x.ts"], f).config.port, 1111);
  const viaEnv = run(["x.ts"], f, { LSBAWS_CONFIG: "b.json" });
  assert.equal(viaEnv.config.port, 2222);
  assert.equal(viaEnv.config.config, "b.json");
  assert.deepEqual(viaEnv.sources.config, { kind: "env", name: "LSBAWS_CONFIG" });
  assert.equal(
    run(["--config", "a.json", "x.ts"], f, { LSBAWS_CONFIG: "b.json" }).config.port,
    1111,
  );
  assert.equal(run(["x.ts"], f, { LSBAWS_CONFIG: "" }).config.port, DEFAULTS.port);
});

Deno.test("keys may be camelCase keys, flag names or aliases; both for one setting is an error", () => {
  const f = {
    "k.json": file(
      '"max-body-bytes": 10',
      '"keepAliveTimeoutMs": 20',
      '"graceful-timeout-ms": 30',
    ),
    "dup.json": file('"maxBodyBytes": 1', '"max-body-bytes": 2'),
  };
  const r = run(["--config", "k.json", "a.ts"], f);
  assert.equal(r.config.maxBodyBytes, 10);
  assert.equal(r.config.keepAliveTimeoutMs, 20);
  assert.equal(r.config.shutdownGraceMs, 30);
  rejects(
    ["--config", "dup.json", "a.ts"],
    f,
    /^dup\.json:3: /,
    /'max-body-bytes'/,
    /'maxBodyBytes'/,
  );
  rejects(
    ["--config", "d2.json", "a.ts"],
    { "d2.json": '{"port": 1, "port": 2}' },
    /duplicate key/,
  );
});

Deno.test("an unknown key names the key and the closest known one", () => {
  rejects(
    ["--config", "u.json", "a.ts"],
    { "u.json": file('"port": 1', '"maxBodyByte": 5') },
    /^u\.json:3: unknown setting 'maxBodyByte' \(did you mean maxBodyBytes\?\)$/,
  );
  rejects(
    ["--config", "u.json", "a.ts"],
    { "u.json": '{"max-body-byte": 5}' },
    /did you mean max-body-bytes\?/,
  );
  rejects(
    ["--config", "u.json", "a.ts"],
    { "u.json": '{"max_body_bytes": 5}' },
    /did you mean maxBodyBytes\?/,
  );
  rejects(
    ["--config", "u.json", "a.ts"],
    { "u.json": '{"LogLevel": "info"}' },
    /did you mean logLevel\?/,
  );
  rejects(
    ["--config", "u.json", "a.ts"],
    { "u.json": '{"p": 5}' },
    /unknown setting 'p' \(see --help\)/,
  );
  assert.equal(closestSettingName("zzzzzzzz"), null);
  assert.equal(
    closestSettingName("prnt-config"),
    null,
    "command-line-only rows are never suggested",
  );
});

Deno.test("a wrong JSON type names the key and the expected type", () => {
  const cases: [string, RegExp][] = [
    ['"maxBodyBytes": "5"', /t\.json:2: maxBodyBytes: expected an integer, got string$/],
    ['"port": 1.5', /port: expected an integer, got 1\.5$/],
    ['"port": null', /port: expected an integer, got null$/],
    ['"validate": "true"', /validate: expected true or false, got string$/],
    ['"validate": 1', /validate: expected true or false, got 1$/],
    ['"serverHeader": 5', /serverHeader: expected a string, got 5$/],
    ['"logLevel": 3', /logLevel: expected one of debug, info, .*, got 3$/],
    ['"logLevel": "loud"', /logLevel must be one of debug, info, .*, got 'loud'$/],
    ['"bind": "127.0.0.1:1"', /bind: expected an array of strings, got string$/],
    ['"bind": ["127.0.0.1:1", 2]', /bind\[1\]: expected a string, got 2$/],
    ['"bind": {}', /bind: expected an array of strings, got object$/],
  ];
  for (const [member, pattern] of cases) {
    rejects(["--config", "t.json", "a.ts"], { "t.json": file(member) }, pattern);
  }
});

Deno.test("out-of-range values name the bounds, as on the command line", () => {
  const f = (m: string) => ({ "b.json": file(m) });
  rejects(
    ["--config", "b.json", "a.ts"],
    f('"port": 70000'),
    /b\.json:2: port must be at most 65535, got 70000/,
  );
  rejects(["--config", "b.json", "a.ts"], f('"port": -1'), /port must be at least 0, got -1/);
  rejects(["--config", "b.json", "a.ts"], f('"backlog": 0'), /backlog must be at least 1, got 0/);
  rejects(
    ["--config", "b.json", "a.ts"],
    f('"maxBodyBytes": 1e300'),
    new RegExp(`at most ${Number.MAX_SAFE_INTEGER}`),
  );
  // Cross-setting checks see file values too.
  rejects(["--config", "b.json", "a.ts"], f('"certfile": "c.pem"'), /--certfile and --keyfile/);
  rejects(["--config", "b.json", "a.ts"], f('"healthPath": "h"'), /--health-path must start/);
  // A file value that is overridden is still checked: the file is wrong either way.
  rejects(["--config", "b.json", "--port", "1", "a.ts"], f('"port": 70000'), /at most 65535/);
});

Deno.test("JSONC: comments, trailing commas, and // kept inside strings", () => {
  const text = [
    "// lsbaws settings",
    "{",
    '  "serverHeader": "a // b /* c */", // the header',
    "  /* the health check",
    "     for the balancer */",
    '  "healthPath": "/h",',
    '  "bind": ["127.0.0.1:1",],',
    "}",
  ].join("\n");
  const r = run(["--config", "j.jsonc", "a.ts"], { "j.jsonc": text });
  assert.equal(r.config.serverHeader, "a // b /* c */");
  assert.equal(r.config.healthPath, "/h");
  assert.deepEqual(r.config.bind, ["127.0.0.1:1"]);
  assert.deepEqual(r.sources.healthPath, { kind: "file", path: "j.jsonc", line: 6 });
});

Deno.test("invalid JSON, a non-object file and an unreadable file are clear usage errors", () => {
  rejects(
    ["--config", "i.json", "a.ts"],
    { "i.json": '{\n  "port": 1\n  "host": "x"\n}' },
    /^i\.json:3:3: invalid JSON: expected ',' or '}', got '"'$/,
  );
  rejects(["--config", "i.json", "a.ts"], { "i.json": "" }, /^i\.json:1:1: invalid JSON/);
  rejects(
    ["--config", "i.json", "a.ts"],
    { "i.json": "[1]" },
    /i\.json: expected a JSON object of settings, got array/,
  );
  rejects(["--config", "missing.json", "a.ts"], {}, /no such file missing\.json/);
  // A reader that fails with something other than a ConfigError is wrapped in one.
  assert.throws(
    () =>
      parseCli(["--config", "x.json", "a.ts"], {}, () => {
        throw new Error("disk on fire");
      }),
    (err) =>
      err instanceof ConfigError &&
      /cannot read config file x\.json: disk on fire/.test(err.message),
  );
  // Without a reader, --config is refused rather than ignored.
  assert.throws(() => parseCli(["--config", "x.json", "a.ts"]), ConfigError);
});

Deno.test("config and printConfig cannot be set inside the file", () => {
  rejects(
    ["--config", "f.json", "a.ts"],
    { "f.json": '{"config": "other.json"}' },
    /f\.json:1: 'config' cannot be set in a config file, only by --config or \$LSBAWS_CONFIG/,
  );
  rejects(
    ["--config", "f.json", "a.ts"],
    { "f.json": '{"print-config": true}' },
    /'print-config' cannot be set in a config file/,
  );
});

Deno.test("the $PORT convention yields to a host or bind from the file", () => {
  const env = { PORT: "5000" };
  assert.equal(run(["a.ts"], {}, env).config.host, "0.0.0.0");
  const withHost = run(["--config", "h.json", "a.ts"], { "h.json": '{"host": "127.0.0.2"}' }, env);
  assert.equal(withHost.config.host, "127.0.0.2");
  assert.equal(withHost.sources.host.kind, "file");
  const withBind = run(
    ["--config", "h.json", "a.ts"],
    { "h.json": '{"bind": ["127.0.0.1:1"]}' },
    env,
  );
  assert.equal(withBind.config.host, "127.0.0.1");
  const viaPort = run(["a.ts"], {}, env);
  assert.deepEqual(viaPort.sources.host, { kind: "env", name: "PORT" });
});

Deno.test("--print-config: works without an app spec, lists every setting with its source", () => {
  const f = { "p.jsonc": file('"workers": 3', '"validate": true') };
  const r = parse(["--print-config", "--config", "p.jsonc", "--port", "9"], f, {
    WEB_CONCURRENCY: "4",
  });
  assert.equal(r.kind, "print-config");
  if (r.kind !== "print-config") return;
  assert.equal(r.appSpec, null);
  const text = printConfigText(r, "9.9.9");
  const lines = text.split("\n");
  assert.match(lines[0], /^\/\/ lsbaws 9\.9\.9: effective settings \(app: none\)$/);
  for (const s of SETTINGS.filter((s) => !isCliOnly(s))) {
    assert.equal(lines.filter((l) => l.startsWith(`  "${s.key}": `)).length, 1, s.key);
  }
  const line = (key: string) => lines.find((l) => l.startsWith(`  "${key}": `)) ?? "";
  assert.match(line("port"), /^ {2}"port": 9, +\/\/ cli --port$/);
  assert.match(line("workers"), /"workers": 4, +\/\/ env WEB_CONCURRENCY$/);
  assert.match(line("validate"), /"validate": true, +\/\/ file p\.jsonc:3$/);
  assert.match(line("backlog"), /"backlog": 2048, +\/\/ default$/);
  assert.ok(lines.includes('// config: "p.jsonc" (cli --config)'), text);
  // With an app spec, it is named; two are still an error.
  const withApp = parse(["--print-config", "apps/hello.ts:app"], {});
  assert.equal(withApp.kind === "print-config" && withApp.appSpec, "apps/hello.ts:app");
  rejects(["--print-config", "a.ts", "b.ts"], {}, /expected one app spec/);
});

Deno.test("--print-config output is itself a config file giving the same settings", () => {
  const f = {
    "in.jsonc": file('"bind": ["127.0.0.1:7"]', '"logLevel": "debug"', '"rootPath": "/api"'),
  };
  const first = parse(["--print-config", "--config", "in.jsonc", "-w", "2"], f);
  assert.equal(first.kind, "print-config");
  if (first.kind !== "print-config") return;
  const text = printConfigText(first, "0");
  const again = run(["--config", "out.jsonc", "a.ts"], { "out.jsonc": text });
  const { config: _c, printConfig: _p, ...want } = first.config;
  const { config: _c2, printConfig: _p2, ...got } = again.config;
  assert.deepEqual(got, want);
  const line = text.split("\n").findIndex((l) => l.startsWith('  "workers": 2,')) + 1;
  assert.equal(describeSource(again.sources.workers), `file out.jsonc:${line}`);
});

// ---------------------------------------------------------------------------------------------
// Through main()

function capture(files: Record<string, string>, env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const read: string[] = [];
  const listening = Promise.withResolvers<Server>();
  const signals = new Map<string, () => void>();
  const deps: MainDeps = {
    env,
    cwd: "/srv/site",
    stdout: { write: (t) => void out.push(t) },
    stderr: { write: (t) => void err.push(t) },
    onSignal(signal, handler) {
      signals.set(signal, handler);
      return () => signals.delete(signal);
    },
    onListen: (s) => listening.resolve(s),
    readTextFile(path) {
      read.push(path);
      if (path in files) return files[path];
      throw new Deno.errors.NotFound(`No such file: ${path}`);
    },
  };
  return { deps, out, err, read, signals, server: listening.promise };
}

Deno.test("main: --print-config exits 0 without loading the app or listening", async () => {
  const c = capture({ "/srv/site/lsbaws.jsonc": '{"port": 0, // any\n"accessLog": "-"}' });
  const code = await main(["--config", "lsbaws.jsonc", "--print-config", "apps/nope.ts"], c.deps);
  assert.equal(code, 0, c.err.join(""));
  assert.deepEqual(c.read, ["/srv/site/lsbaws.jsonc"], "relative paths resolve against cwd");
  const text = c.out.join("");
  assert.match(text, /app: apps\/nope\.ts/);
  assert.match(text, /"port": 0, +\/\/ file lsbaws\.jsonc:1/);
  assert.match(text, /"accessLog": "-", +\/\/ file lsbaws\.jsonc:2/);
  assert.equal(c.signals.size, 0, "never reached the server");
  const noApp = capture({});
  assert.equal(await main(["--print-config"], noApp.deps), 0);
  assert.match(noApp.out.join(""), /app: none/);
});

Deno.test("main: config file errors exit with EXIT_USAGE and a clear message", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ["--config", "nope.json", "a.ts"],
      {},
      /config file nope\.json not found \(looked for \/srv\/site\/nope\.json\)/,
    ],
    [
      ["--config", "/etc/x.json", "a.ts"],
      { "/etc/x.json": '{"maxBodyByte": 1}' },
      /did you mean maxBodyBytes\?/,
    ],
    [
      ["--config", "/etc/x.json", "a.ts"],
      { "/etc/x.json": '{"port": "80"}' },
      /port: expected an integer, got string/,
    ],
    [["--config", "/etc/x.json", "a.ts"], { "/etc/x.json": "{\n,}" }, /x\.json:2:1: invalid JSON/],
    // Checks main.ts makes after parsing apply to file values as well.
    [
      ["--config", "/etc/x.json", "--print-config"],
      { "/etc/x.json": '{"bind": ["nonsense"]}' },
      /invalid bind 'nonsense'/,
    ],
  ];
  for (const [args, files, pattern] of cases) {
    const c = capture(files);
    assert.equal(await main(args, c.deps), EXIT_USAGE, args.join(" "));
    assert.match(c.err.join(""), /^lsbaws: error: /);
    assert.match(c.err.join(""), pattern);
  }
});

Deno.test("main: an unreadable config file (a directory) exits with EXIT_USAGE", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = capture({});
    delete c.deps.readTextFile; // the real reader
    c.deps.cwd = dir;
    assert.equal(await main(["--config", ".", "a.ts"], c.deps), EXIT_USAGE);
    assert.match(c.err.join(""), /lsbaws: error: cannot read config file \.: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: serves with settings from a real config file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/lsbaws.jsonc`,
      '{\n  // test\n  "port": 0,\n  "log-level": "warning",\n  "keep-alive-timeout-ms": 200,\n  "serverHeader": "from-file",\n}\n',
    );
    const c = capture({});
    delete c.deps.readTextFile;
    c.deps.cwd = root;
    const done = main(["--config", `${dir}/lsbaws.jsonc`, "apps/hello.ts:app"], c.deps);
    const server = await c.server;
    const port = (server.addrs[0] as Deno.NetAddr).port;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.headers.get("server"), "from-file");
    assert.equal(await res.text(), "Hello, world!\n");
    c.signals.get("SIGTERM")!();
    assert.equal(await done, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("end to end: deno run main.ts --config F apps/hello.ts:app", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lsbaws.jsonc`;
  await Deno.writeTextFile(
    path,
    '/* e2e */ {"port": 0, "logLevel": "warning", "keepAliveTimeoutMs": 200, "server-header": "e2e // kept",}\n',
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-net", "main.ts", "--config", path, "apps/hello.ts:app"],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let banner = "";
    const re = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
    while (!re.test(banner)) {
      const { value, done } = await reader.read();
      if (done) break;
      banner += value;
    }
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
    const port = Number(re.exec(banner)?.[1]);
    assert.ok(port > 0, `no banner: ${banner}`);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.headers.get("server"), "e2e // kept");
    assert.equal(await res.text(), "Hello, world!\n");
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await Deno.remove(dir, { recursive: true });
  }
});
