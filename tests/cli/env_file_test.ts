/**
 * `--env-file FILE` (uvicorn's): the dotenv grammar (quotes, escapes, comments, `export`, errors
 * naming the line), variables already set winning, and real processes: the app and every worker
 * see the file's variables, settings read from the environment (`WEB_CONCURRENCY`, `PORT`) take
 * them, the path is found after `--chdir`, and a missing or malformed file is a usage error (2).
 * `-e/--env KEY=VALUE` (gunicorn's) wins over the environment and the file, and a malformed one is
 * a usage error too.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../server/config.ts";
import { mergeEnv, parseEnvAssignment, parseEnvFile } from "../../server/env_file.ts";
import { freePort, type Proc, reachEachWorker, startLsbaws } from "../_support/proc.ts";

const APP = "tests/fixtures/apps/env_var.ts";

Deno.test("dotenv grammar: bare, single- and double-quoted values, comments, export, escapes", () => {
  const text = [
    "# a comment",
    "",
    "PLAIN=hello world  # trailing comment",
    "export EXPORTED = yes",
    "SINGLE='literal \\n $HOME # not a comment'",
    'DOUBLE="line1\\nline2 \\"quoted\\" back\\\\slash \\q" # comment',
    "EMPTY=",
    "HASH=a#b",
    "URL=postgres://u:p@h:5432/db?sslmode=require",
    "DUP=first",
    "DUP=second",
  ].join("\r\n");
  assert.deepEqual(parseEnvFile(text, ".env"), [
    ["PLAIN", "hello world"],
    ["EXPORTED", "yes"],
    ["SINGLE", "literal \\n $HOME # not a comment"],
    ["DOUBLE", 'line1\nline2 "quoted" back\\slash \\q'],
    ["EMPTY", ""],
    ["HASH", "a#b"],
    ["URL", "postgres://u:p@h:5432/db?sslmode=require"],
    ["DUP", "first"],
    ["DUP", "second"],
  ]);
});

Deno.test("dotenv errors name the file and line", () => {
  const cases: [string, RegExp][] = [
    ["OK=1\nNOEQUALS", /^\.env:2: expected KEY=VALUE$/],
    ["1BAD=x", /^\.env:1: '1BAD' is not a variable name/],
    ["A-B=x", /^\.env:1: 'A-B' is not a variable name/],
    ["Q='open", /^\.env:1: the single quote is not closed/],
    ['Q="open', /^\.env:1: the double quote is not closed/],
    ['Q="done" extra', /^\.env:1: unexpected text after the quoted value/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseEnvFile(text, ".env"), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("variables already set win over the file; the file's last value of a name counts", () => {
  const merged = mergeEnv({ KEEP: "mine" }, [["KEEP", "file"], ["NEW", "a"], ["NEW", "b"]]);
  assert.deepEqual(merged, { KEEP: "mine", NEW: "b" });
});

async function writeEnv(text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-envfile-" });
  await Deno.writeTextFile(`${dir}/.env`, text);
  return dir;
}

/** Waits for two workers and checks that each answers `/GREETING` with `expected`. */
async function expectGreetingInBothWorkers(p: Proc, port: number, expected: string): Promise<void> {
  await p.waitFor(() => p.workers().length === 2, "2 workers (WEB_CONCURRENCY from the file)");
  const workers = p.workers();
  const { pids } = await reachEachWorker(workers, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/GREETING`, {
      headers: { Connection: "close" },
    });
    const [value, pid] = (await res.text()).split(/ (?=\d+$)/);
    assert.equal(value, expected);
    return Number(pid);
  });
  assert.deepEqual([...pids].sort(), [...workers].sort(), "both workers have it");
}

Deno.test("the app and both workers see the file; WEB_CONCURRENCY and PORT come from it", async () => {
  const port = freePort();
  const dir = await writeEnv(
    `GREETING="hello from .env"\nWEB_CONCURRENCY=2\nPORT=${port}\nKEPT=file\n`,
  );
  const p = await startLsbaws(["--host", "127.0.0.1", "--env-file", `${dir}/.env`, APP], {
    env: { KEPT: "caller" },
  });
  try {
    assert.equal(p.port(), port, "PORT from the file");
    await expectGreetingInBothWorkers(p, port, "hello from .env");
    const kept = await fetch(`http://127.0.0.1:${port}/KEPT`, { headers: { Connection: "close" } });
    assert.match(await kept.text(), /^caller /, "a variable the caller set wins");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--env-file is found after --chdir", async () => {
  const dir = await writeEnv("GREETING=relative\n");
  const root = new URL("../../", import.meta.url).pathname;
  const p = await startLsbaws(["-p", "0", "--chdir", dir, "--env-file", ".env", `${root}${APP}`]);
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/GREETING`, {
      headers: { Connection: "close" },
    });
    assert.match(await res.text(), /^relative /);
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing or malformed env file, or a bad value in it, is a usage error (exit 2)", async () => {
  const dir = await writeEnv("GOOD=1\nBAD LINE\n");
  await Deno.writeTextFile(`${dir}/port.env`, "PORT=eighty\n");
  try {
    const cases: [string, RegExp][] = [
      [`${dir}/nope.env`, /cannot read --env-file .*nope\.env/],
      [`${dir}/.env`, /\.env:2: expected KEY=VALUE/],
      [`${dir}/port.env`, /PORT.*eighty.*\(with --env-file .*port\.env\)/],
    ];
    for (const [file, message] of cases) {
      const p = await startLsbaws(["--env-file", file, APP], { waitListening: false });
      const status = await p.status;
      await p.stop();
      assert.equal(status.code, 2, p.err.join("\n"));
      assert.match(p.err.join("\n"), message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--env KEY=VALUE (gunicorn's -e): the value is literal after the first '='; bad names refused", () => {
  assert.deepEqual(parseEnvAssignment("URL=postgres://u:p@h/db?x=1"), [
    "URL",
    "postgres://u:p@h/db?x=1",
  ]);
  assert.deepEqual(parseEnvAssignment("EMPTY="), ["EMPTY", ""]);
  assert.deepEqual(parseEnvAssignment("Q='kept as is' # too"), ["Q", "'kept as is' # too"]);
  assert.throws(() => parseEnvAssignment("NOVALUE"), /--env NOVALUE: expected KEY=VALUE/);
  assert.throws(() => parseEnvAssignment("1A=x"), /'1A' is not a variable name/);
  assert.throws(() => parseEnvAssignment("=x"), /'' is not a variable name/);
});

Deno.test("-e wins over the environment and --env-file, reaches both workers, and PORT from it applies", async () => {
  const port = freePort();
  const dir = await writeEnv("GREETING=from the file\nWEB_CONCURRENCY=2\n");
  const p = await startLsbaws([
    "--host",
    "127.0.0.1",
    "--env-file",
    `${dir}/.env`,
    "-e",
    "GREETING=from -e",
    "--env",
    `PORT=${port}`,
    APP,
  ], { env: { GREETING: "from the caller" } });
  try {
    assert.equal(p.port(), port, "PORT from -e");
    await expectGreetingInBothWorkers(p, port, "from -e");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a malformed -e is a usage error (exit 2)", async () => {
  const p = await startLsbaws(["-e", "NO_EQUALS", APP], { waitListening: false });
  const status = await p.status;
  await p.stop();
  assert.equal(status.code, 2, p.err.join("\n"));
  assert.match(p.err.join("\n"), /--env NO_EQUALS: expected KEY=VALUE/);
});
