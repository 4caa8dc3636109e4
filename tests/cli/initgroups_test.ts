/**
 * `--initgroups` (gunicorn's): the identity variable's grammar, how a worker is started with it,
 * the usage and boot errors, and real processes run by root in a mount namespace of the test's
 * own, where `/etc/group` is a copy with one more group listing `nobody` as a member: the
 * workers get that group with `--initgroups` and none without, the app reads a file only that
 * group may read, and a uid without a user entry is exit 3. The process tests need root,
 * `nobody` and `unshare`; elsewhere they skip and say why.
 */
import assert from "node:assert/strict";
import { main, type MainDeps } from "../../main.ts";
import { EXIT_BOOT_ERROR, EXIT_USAGE } from "../../server/config.ts";
import { WORKER_IDENTITY_ENV } from "../../server/process/control.ts";
import { parseWorkerIdentity } from "../../server/process/privileges.ts";
import { spawnIdentity } from "../../server/process/spawn.ts";
import { parseGroup } from "../../server/process/identity.ts";
import { identitySkip, idsOf, systemNobody } from "../_support/identity.ts";
import { startLsbaws } from "../_support/proc.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const APP = "tests/fixtures/apps/whoami.ts:app";

Deno.test("LSBAWS_WORKER_IDENTITY: uid:gid in decimal, anything else is null", () => {
  assert.deepEqual(parseWorkerIdentity("65534:65534"), { uid: 65534, gid: 65534 });
  assert.deepEqual(parseWorkerIdentity("0:4294967294"), { uid: 0, gid: 4294967294 });
  for (const bad of [undefined, "", "65534", "a:b", "1:2:3", "-1:0", "4294967295:0", " 1:1"]) {
    assert.equal(parseWorkerIdentity(bad), null, String(bad));
  }
});

Deno.test("spawnIdentity: --user alone starts the worker under the ids; --initgroups as root with the variable", () => {
  const env = { LSBAWS_WORKER: "3" };
  const command = { cmd: "lsbaws", args: [], uid: 65534, gid: 65534 };
  assert.deepEqual(spawnIdentity(command, env), { uid: 65534, gid: 65534, env });
  assert.deepEqual(spawnIdentity({ ...command, initgroups: true }, env), {
    env: { LSBAWS_WORKER: "3", [WORKER_IDENTITY_ENV]: "65534:65534" },
  });
  assert.deepEqual(env, { LSBAWS_WORKER: "3" }, "the caller's environment is not changed");
  const plain = { cmd: "lsbaws", args: [] };
  assert.deepEqual(spawnIdentity({ ...plain, initgroups: true }, env), {
    uid: undefined,
    gid: undefined,
    env,
  });
});

function capture(env: Record<string, string>) {
  const err: string[] = [];
  const unset: string[] = [];
  const deps: MainDeps = {
    env,
    cwd: ROOT,
    stdout: { write: () => {} },
    stderr: { write: (t) => void err.push(t) },
    onSignal: () => () => {},
    unsetEnv: (name) => void unset.push(name),
  };
  return { deps, err, unset };
}

Deno.test("--initgroups without --user is a usage error", async () => {
  const c = capture({});
  assert.equal(await main(["--initgroups", "apps/hello.ts:app"], c.deps), EXIT_USAGE);
  assert.match(c.err.join(""), /--initgroups needs --user/);
});

Deno.test("a worker given a malformed identity stops before anything else: exit 3, variable unset", async () => {
  const c = capture({ LSBAWS_WORKER: "1", [WORKER_IDENTITY_ENV]: "nobody" });
  assert.equal(await main(["-p", "0", "apps/hello.ts:app"], c.deps), EXIT_BOOT_ERROR);
  assert.match(
    c.err.join(""),
    /cannot switch the worker's identity: malformed LSBAWS_WORKER_IDENTITY: 'nobody'/,
  );
  assert.deepEqual(c.unset, [WORKER_IDENTITY_ENV]);
});

// --- real processes (root only) ------------------------------------------------------------

function hasUnshare(): boolean {
  try {
    return new Deno.Command("unshare", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const NOBODY = systemNobody();
const NO_UNSHARE = "no unshare(1) to give the test a mount namespace with its own /etc/group";
const SKIP = identitySkip("initgroups_test", NOBODY) ?? (hasUnshare() ? null : NO_UNSHARE);
if (SKIP === NO_UNSHARE) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(`initgroups_test: the process tests are skipped: ${SKIP}\n`),
  );
}

/**
 * A directory with a copy of `/etc/group` plus `lsbaws-sup` (a free gid) listing `nobody`, a
 * file only that group may read, and the launcher that runs lsbaws in a new mount namespace
 * where the copy is bind-mounted over `/etc/group` (the host's file is never touched).
 */
async function groupSetup() {
  const groups = Deno.readTextFileSync("/etc/group");
  const used = new Set(parseGroup(groups).map((g) => g.gid));
  let gid = 48_213;
  while (used.has(gid)) gid++;
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-initgroups-" });
  await Deno.chmod(dir, 0o755);
  const file = `${dir}/group`;
  await Deno.writeTextFile(file, `${groups.trimEnd()}\nlsbaws-sup:x:${gid}:nobody\n`, {
    mode: 0o644,
  });
  const secret = `${dir}/group-secret`;
  await Deno.writeTextFile(secret, "for lsbaws-sup");
  await Deno.chown(secret, 0, gid);
  await Deno.chmod(secret, 0o640);
  const launcher = [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount --bind '${file}' /etc/group && exec "$0" "$@"`,
  ];
  return { dir, gid, secret, launcher };
}

async function whoami(port: number, secret: string) {
  const res = await fetch(`http://127.0.0.1:${port}/?read=${secret}`, {
    headers: { Connection: "close" },
  });
  assert.equal(res.status, 200);
  return await res.json() as { uid: number; gid: number; pid: number; canRead: boolean };
}

Deno.test({
  name:
    "root with --user nobody --initgroups -w 2: the workers have nobody's supplementary groups, without it none",
  ignore: SKIP !== null,
  async fn() {
    const { dir, gid, secret, launcher } = await groupSetup();
    const run = async (extra: string[]) => {
      const p = await startLsbaws(
        ["-p", "0", "--user", "nobody", "-w", "2", ...extra, "tests/fixtures/apps/whoami.ts:app"],
        { launcher },
      );
      try {
        // A worker started as root switches within its first milliseconds (with --initgroups).
        await p.waitFor(
          () => p.workers().length === 2 && p.workers().every((w) => idsOf(w).uid !== 0),
          "2 workers that left root",
        );
        const me = await whoami(p.port(), secret);
        assert.deepEqual([me.uid, me.gid], [NOBODY!.uid, NOBODY!.gid]);
        return {
          supervisor: idsOf(p.pid),
          workers: p.workers().map(idsOf),
          canRead: me.canRead,
          err: p.err.join("\n"),
        };
      } finally {
        await p.stop();
      }
    };
    try {
      const withGroups = await run(["--initgroups"]);
      assert.match(
        withGroups.err,
        /workers run as user nobody .*, with the user's supplementary groups/,
      );
      assert.deepEqual([withGroups.supervisor.uid, withGroups.supervisor.gid], [0, 0]);
      const want = [...new Set([NOBODY!.gid, gid])].sort((a, b) => a - b);
      for (const w of withGroups.workers) {
        assert.deepEqual(w, { uid: NOBODY!.uid, gid: NOBODY!.gid, groups: want });
      }
      assert.equal(withGroups.canRead, true, "the app reads a file its supplementary group may");

      const without = await run([]);
      for (const w of without.workers) {
        assert.deepEqual(w, { uid: NOBODY!.uid, gid: NOBODY!.gid, groups: [] });
      }
      assert.equal(without.canRead, false, "without --initgroups the group's file is closed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "root with --initgroups: the app never sees LSBAWS_WORKER_IDENTITY",
  ignore: SKIP !== null,
  async fn() {
    const p = await startLsbaws([
      "-p",
      "0",
      "--user",
      "nobody",
      "--initgroups",
      "tests/fixtures/apps/env_var.ts",
    ]);
    try {
      const res = await fetch(`http://127.0.0.1:${p.port()}/${WORKER_IDENTITY_ENV}`, {
        headers: { Connection: "close" },
      });
      assert.match(await res.text(), /^<unset> \d+$/);
      const worker = await fetch(`http://127.0.0.1:${p.port()}/LSBAWS_WORKER`, {
        headers: { Connection: "close" },
      });
      assert.match(await worker.text(), /^\d+ \d+$/, "the probe reads the worker's variables");
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name: "root with --initgroups for a uid no user entry names: the worker cannot boot, exit 3",
  ignore: SKIP !== null,
  async fn() {
    const uid = 4_000_000_001; // no passwd entry on any sane system
    const p = await startLsbaws(
      ["-p", "0", "--user", String(uid), "--group", String(uid), "--initgroups", "apps/hello.ts"],
      { waitListening: false, timeoutMs: 30_000 },
    );
    const status = await p.status;
    await p.stop();
    assert.equal(status.code, 3, p.err.join("\n"));
    assert.match(
      p.err.join("\n"),
      new RegExp(
        `cannot switch the worker's identity: uid ${uid} has no entry in the user database`,
      ),
    );
  },
});

Deno.test({
  name: "--initgroups from a process that is not root, for its own user: served with its groups",
  ignore: SKIP !== null,
  async fn() {
    const p = await startLsbaws(["-p", "0", "--user", "nobody", "--initgroups", APP], {
      launcher: ["setpriv", `--reuid=${NOBODY!.uid}`, `--regid=${NOBODY!.gid}`, "--clear-groups"],
    });
    try {
      await p.waitForErr(/with this process's groups \(--initgroups needs root\)/);
      const res = await fetch(`http://127.0.0.1:${p.port()}/`, {
        headers: { Connection: "close" },
      });
      const me = await res.json();
      assert.deepEqual([me.uid, me.gid], [NOBODY!.uid, NOBODY!.gid]);
    } finally {
      await p.stop();
    }
  },
});
