/**
 * Unit tests of `bench/lib/profile.ts` and the `--profile` options of `deno task bench`: the
 * profiled command line, self time per function and category from a V8 CPU profile (samples,
 * time deltas, frames merged across call stacks, idle time left out of the shares), the Markdown
 * that bench/RESULTS.md carries (or, for a run with a missed target and no profile, how to get
 * one), and a real `deno run --cpu-prof` profile read back.
 */
import assert from "node:assert/strict";
import {
  categoryOf,
  type CpuProfile,
  type CpuProfileFrame,
  profiledCommand,
  profileMarkdown,
  summarizeProfile,
} from "../../bench/lib/profile.ts";
import { parseArgs, resultsMarkdown } from "../../bench/run.ts";
import type { BenchResults } from "../../bench/lib/report.ts";

const ROOT = "/repo";

function frame(functionName: string, url = "", lineNumber = -1): CpuProfileFrame {
  return { functionName, url, lineNumber, columnNumber: lineNumber >= 0 ? 2 : -1 };
}

/**
 * root ─┬─ (idle)                       [id 2]
 *       ├─ (garbage collector)          [id 3]
 *       └─ serve (server/serve.ts:10)   [id 4] ─┬─ parse (server/http/parser.ts:5)  [id 5]
 *                                               └─ op_write (builtin)               [id 6]
 *          handle (gateway/fetch.ts:3)  [id 7] ── parse (same function as id 5)     [id 8]
 */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 3, 4, 7] },
    { id: 2, callFrame: frame("(idle)") },
    { id: 3, callFrame: frame("(garbage collector)") },
    { id: 4, callFrame: frame("serve", `file://${ROOT}/server/serve.ts`, 9), children: [5, 6] },
    { id: 5, callFrame: frame("parse", `file://${ROOT}/server/http/parser.ts`, 4) },
    { id: 6, callFrame: frame("op_write") },
    { id: 7, callFrame: frame("handle", `file://${ROOT}/gateway/fetch.ts`, 2), children: [8] },
    { id: 8, callFrame: frame("parse", `file://${ROOT}/server/http/parser.ts`, 4) },
  ],
  // Each sample lasts until the next; the last one until endTime.
  samples: [5, 8, 6, 2, 3, 4],
  timeDeltas: [100, 1000, 2000, 3000, 4000, 500],
  startTime: 0,
  endTime: 10_600 + 1000,
};

Deno.test("profiledCommand adds --cpu-prof with a profile dir to deno run only", () => {
  assert.deepEqual(profiledCommand(["deno", "run", "-A", "main.ts", "app.ts"], "/tmp/p"), [
    "deno",
    "run",
    "--cpu-prof",
    "--cpu-prof-dir=/tmp/p",
    "-A",
    "main.ts",
    "app.ts",
  ]);
  assert.throws(() => profiledCommand(["node", "x.mjs"], "/tmp/p"), /not a deno run command/);
});

Deno.test("categoryOf sorts frames into lsbaws, app, runtime, builtins, GC and native", () => {
  const f = (url: string, name = "f") => categoryOf(frame(name, url, 1), ROOT);
  assert.equal(f(`file://${ROOT}/server/connection.ts`), "lsbaws server/");
  assert.equal(f(`file://${ROOT}/gateway/wsgi.ts`), "lsbaws gateway/");
  assert.equal(f(`file://${ROOT}/bench/apps/hello_fetch.ts`), "bench app");
  assert.equal(f(`file://${ROOT}/main.ts`), "other project code");
  assert.equal(f("ext:deno_net/01_net.js"), "Deno runtime JS");
  assert.equal(f("node:buffer"), "Deno runtime JS");
  assert.equal(f(""), "V8 builtins and ops");
  assert.equal(f("https://example.com/x.js"), "other JS");
  assert.equal(f("", "(garbage collector)"), "GC");
  assert.equal(f("", "(program)"), "native (outside JS: ops, runtime, kernel)");
  assert.equal(f("", "(idle)"), "idle");
});

Deno.test("summarizeProfile: self time per function and category, idle left out", () => {
  const s = summarizeProfile(PROFILE, {
    root: ROOT,
    server: "lsbaws-libc-fetch",
    scenario: "keepalive",
    rps: 1234,
  });
  // parse: 1000 (id 5) + 2000 (id 8); op_write 3000; idle 4000; GC 500; serve 1000 (to endTime).
  assert.equal(s.samples, 6);
  assert.equal(s.totalMs, 11.5);
  assert.equal(s.idleMs, 4);
  assert.deepEqual(
    s.top.map((e) => [e.name, e.location, e.category, e.selfMs]),
    [
      ["parse", "server/http/parser.ts:5", "lsbaws server/", 3],
      ["op_write", "", "V8 builtins and ops", 3],
      ["serve", "server/serve.ts:10", "lsbaws server/", 1],
      ["(garbage collector)", "", "GC", 0.5],
    ],
  );
  assert.equal(s.top[0].pct, 40); // 3 of 7.5 busy ms
  assert.deepEqual(s.categories.map((c) => [c.category, c.selfMs]), [
    ["lsbaws server/", 4],
    ["V8 builtins and ops", 3],
    ["GC", 0.5],
  ]);
  assert.equal(summarizeProfile(PROFILE, { ...optsOf(), top: 1 }).top.length, 1);

  const md = profileMarkdown(s, "lsbaws libc fetch");
  assert.match(
    md,
    /^\*\*lsbaws libc fetch\*\*, keepalive \(1,234 req\/s while profiled; 6 samples/,
  );
  assert.match(md, /65 % busy\)/);
  assert.match(md, /\| lsbaws server\/ \| 4 \| 53\.3 \|/);
  assert.match(
    md,
    /\| `parse` \| `server\/http\/parser\.ts:5` \| lsbaws server\/ \| 3 \| 40\.0 \|/,
  );
  assert.match(md, /\| `op_write` \| – \| V8 builtins and ops \| 3 \| 40\.0 \|/);
});

function optsOf() {
  return { root: ROOT, server: "s", scenario: "keepalive", rps: 1 };
}

Deno.test("--profile profiles every lsbaws server of the run; --profile-servers picks some", () => {
  assert.equal(parseArgs([]).settings.profileServers, undefined);
  assert.deepEqual(parseArgs(["--profile"]).settings.profileServers, [
    "lsbaws-libc-gateway",
    "lsbaws-libc-fetch",
    "lsbaws-deno-gateway",
    "lsbaws-deno-fetch",
  ]);
  assert.deepEqual(
    parseArgs(["--servers", "lsbaws-deno-fetch", "--profile"]).settings.profileServers,
    ["lsbaws-deno-fetch"],
  );
  assert.deepEqual(
    parseArgs(["--profile-servers", "lsbaws-deno-gateway,lsbaws-fetch"]).settings.profileServers,
    ["lsbaws-libc-fetch", "lsbaws-deno-gateway"],
  );
  assert.throws(() => parseArgs(["--profile-servers", "deno-serve"]), /not an lsbaws server/);
});

Deno.test("a real deno run --cpu-prof profile is summarised", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-profile-test-" });
  try {
    const script = `${dir}/busy.js`;
    await Deno.writeTextFile(
      script,
      "function spin() { let x = 0; for (let i = 0; i < 2e7; i++) x += Math.sqrt(i); return x; }\n" +
        "spin();\n",
    );
    const cmd = profiledCommand([Deno.execPath(), "run", script], `${dir}/out`);
    const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null" }).output();
    assert.equal(out.code, 0);
    const file = [...Deno.readDirSync(`${dir}/out`)].find((e) => e.name.endsWith(".cpuprofile"));
    assert(file, "no .cpuprofile written");
    const p = JSON.parse(await Deno.readTextFile(`${dir}/out/${file.name}`)) as CpuProfile;
    const s = summarizeProfile(p, { root: dir, server: "x", scenario: "keepalive", rps: 0 });
    assert(s.samples > 10, `${s.samples} samples`);
    assert.equal(s.top[0].name, "spin");
    assert.equal(s.top[0].location, "busy.js:1");
    assert.equal(s.top[0].category, "other project code");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench/RESULTS.md carries the profiles, or says how to get them when a target missed", () => {
  const settings = { ...parseArgs([]).settings, scenarios: ["keepalive" as const], rounds: 1 };
  const r: BenchResults = {
    machine: { date: "2026-01-01T00:00:00.000Z" },
    settings,
    startedAt: "",
    elapsedS: 60,
    verification: {},
    throughput: [],
    upload: [],
    idle: [],
    problems: [],
  };
  // No numbers: every keep-alive target is N/A, i.e. not met.
  const without = resultsMarkdown(r);
  assert.match(
    without,
    /### Profiles: where the time goes\n\nThis run made no profiles; `deno task bench --profile`/,
  );
  r.profiles = [summarizeProfile(PROFILE, { ...optsOf(), server: "lsbaws-deno-fetch" })];
  const withProfile = resultsMarkdown(r);
  assert.match(withProfile, /### Profiles: where the time goes\n\nThe profiled lsbaws servers/);
  assert.match(withProfile, /\*\*lsbaws deno fetch\*\*, keepalive/);
  assert.match(withProfile, /\| `parse` \| `server\/http\/parser\.ts:5` \|/);
  assert(withProfile.indexOf("### Profiles") < withProfile.indexOf("### Raw numbers per round"));
});
