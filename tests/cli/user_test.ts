/**
 * `--user` / `--group` (gunicorn's `-u` / `-g`): the passwd and group parsing, how the two
 * settings resolve (names, numbers, the primary group, the errors), who may switch, and real
 * processes run by root: the supervisor keeps root and binds (a port below 1024 and a unix socket
 * owned by the workers' user), the workers (HUP's replacements too) run as `nobody`, the access
 * log is theirs to write, one worker still gets a supervisor, the deno backend's workers bind for
 * themselves, and the refusals exit with 2 or 3. The process tests need root and the `nobody`
 * user; elsewhere they skip and say why.
 */
import assert from "node:assert/strict";
import {
  type Identity,
  IdentityError,
  identityRefusal,
  parseGroup,
  parsePasswd,
  resolveIdentity,
} from "../../server/process/identity.ts";
import { identitySkip, idsOf, systemNobody } from "../_support/identity.ts";
import { freePort, reachEachWorker, startLsbaws } from "../_support/proc.ts";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "# a comment",
  "",
  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
  "broken:x:notanumber:1::/:/bin/sh",
  "app:x:1001:2002:App:/srv/app:/bin/sh",
].join("\n");
const GROUP = ["root:x:0:", "www-data:x:33:", "apps:x:2002:app", "web:x:3003:app,www-data"].join(
  "\n",
);
const DB = { passwd: parsePasswd(PASSWD), groups: parseGroup(GROUP) };
const ROOT_IDS = { uid: 0, gid: 0 };

Deno.test("passwd and group files: entries read, comments and malformed lines skipped", () => {
  assert.deepEqual(DB.passwd, [
    { name: "root", uid: 0, gid: 0 },
    { name: "www-data", uid: 33, gid: 33 },
    { name: "app", uid: 1001, gid: 2002 },
  ]);
  assert.deepEqual(DB.groups.map((g) => [g.name, g.gid]), [
    ["root", 0],
    ["www-data", 33],
    ["apps", 2002],
    ["web", 3003],
  ]);
});

Deno.test("--user and --group resolve names and numbers; the group defaults to the user's", () => {
  const cases: [string, string, Identity | null][] = [
    ["", "", null],
    ["app", "", { uid: 1001, gid: 2002, user: "app", group: "apps" }],
    ["1001", "", { uid: 1001, gid: 2002, user: "1001", group: "apps" }],
    ["app", "web", { uid: 1001, gid: 3003, user: "app", group: "web" }],
    ["www-data", "2002", { uid: 33, gid: 2002, user: "www-data", group: "2002" }],
    ["4242", "4343", { uid: 4242, gid: 4343, user: "4242", group: "4343" }],
    ["", "web", { uid: 0, gid: 3003, user: "0", group: "web" }],
  ];
  for (const [user, group, want] of cases) {
    assert.deepEqual(resolveIdentity(user, group, DB, ROOT_IDS), want, `${user}/${group}`);
  }
});

Deno.test("--user and --group that name nobody are errors naming the setting", () => {
  const cases: [string, string, RegExp][] = [
    ["nosuchuser", "", /^--user nosuchuser: no such user in \/etc\/passwd$/],
    ["app", "nosuchgroup", /^--group nosuchgroup: no such group in \/etc\/group$/],
    ["4242", "", /^--user 4242: no \/etc\/passwd entry .* give --group too$/],
    ["4294967295", "1", /^--user 4294967295: ids go from 0 to 4294967294$/],
    ["app", "99999999999", /^--group 99999999999: ids go from 0 to 4294967294$/],
    ["broken", "", /^--user broken: no such user/],
  ];
  for (const [user, group, message] of cases) {
    assert.throws(() => resolveIdentity(user, group, DB, ROOT_IDS), (err: unknown) => {
      assert.ok(err instanceof IdentityError, String(err));
      assert.match(err.message, message);
      return true;
    });
  }
  assert.throws(() => resolveIdentity("", "web", DB, null), /needs a system with user ids/);
});

Deno.test("only root may switch; the same identity is allowed to anyone; Windows never", () => {
  const app = resolveIdentity("app", "", DB, ROOT_IDS)!;
  assert.equal(identityRefusal(app, ROOT_IDS), null);
  assert.equal(identityRefusal(app, { uid: 1001, gid: 2002 }), null);
  assert.match(
    identityRefusal(app, { uid: 1001, gid: 1001 }) ?? "",
    /only root can start workers as another user or group \(this process runs as uid 1001, gid 1001; asked for uid 1001, gid 2002\)/,
  );
  assert.match(identityRefusal(app, { uid: 33, gid: 33 }) ?? "", /only root/);
  assert.match(identityRefusal(app, null) ?? "", /not Windows/);
});

// --- real processes (root only) ------------------------------------------------------------

const NOBODY = systemNobody();
const SKIP = identitySkip("user_test", NOBODY);

const APP = "tests/fixtures/apps/whoami.ts:app";

/** A port below 1024 nothing listens on, or null. */
function privilegedPort(): number | null {
  for (let port = 1000; port > 900; port--) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken; try the next
    }
  }
  return null;
}

async function whoami(url: string, init?: RequestInit & { client?: Deno.HttpClient }) {
  const res = await fetch(url, { headers: { Connection: "close" }, ...init });
  assert.equal(res.status, 200);
  return await res.json() as { uid: number; gid: number; pid: number; canRead: boolean | null };
}

Deno.test({
  name:
    "root with --user nobody -w 2 (libc): supervisor stays root and binds port < 1024 and a unix socket; workers (and HUP's) are nobody",
  ignore: SKIP !== null,
  async fn() {
    const port = privilegedPort();
    assert.ok(port !== null, "a free port below 1024");
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-user-" });
    await Deno.chmod(dir, 0o755); // The workers (nobody) reopen the access log by its path.
    const secret = `${dir}/secret`;
    await Deno.writeTextFile(secret, "root only", { mode: 0o600 });
    const sock = `${dir}/app.sock`;
    const log = `${dir}/access.log`;
    const p = await startLsbaws([
      "--io",
      "libc",
      "--user",
      "nobody",
      "-w",
      "2",
      "-b",
      `127.0.0.1:${port}`,
      "-b",
      `unix:${sock}`,
      "--access-log",
      log,
      APP,
    ]);
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sock } });
    try {
      assert.equal(p.port(), port);
      await p.waitForErr(
        new RegExp(
          `workers run as user nobody \\(uid ${NOBODY!.uid}\\), group ${NOBODY!.group} ` +
            `\\(gid ${NOBODY!.gid}\\)`,
        ),
      );
      const supervisor = idsOf(p.pid);
      assert.deepEqual([supervisor.uid, supervisor.gid], [0, 0], "the supervisor stays root");
      await p.waitFor(() => p.workers().length === 2, "2 workers");
      const checkWorkers = async () => {
        const workers = p.workers();
        for (const w of workers) {
          assert.deepEqual(idsOf(w), { uid: NOBODY!.uid, gid: NOBODY!.gid, groups: [] });
        }
        const { pids } = await reachEachWorker(workers, async () => {
          const me = await whoami(`http://127.0.0.1:${port}/?read=${secret}`);
          assert.deepEqual([me.uid, me.gid], [NOBODY!.uid, NOBODY!.gid]);
          assert.equal(me.canRead, false, "the app cannot read what only root can");
          return me.pid;
        });
        assert.deepEqual([...pids].sort(), [...workers].sort());
        return workers;
      };
      const before = await checkWorkers();
      const viaUnix = await whoami("http://localhost/", { client });
      assert.equal(viaUnix.uid, NOBODY!.uid);
      const st = Deno.lstatSync(sock);
      assert.deepEqual([st.uid, st.gid, st.mode! & 0o777], [NOBODY!.uid, NOBODY!.gid, 0o600]);
      const logStat = Deno.statSync(log);
      assert.deepEqual([logStat.uid, logStat.gid], [NOBODY!.uid, NOBODY!.gid]);

      p.signal("SIGHUP");
      await p.waitFor(
        () => p.workers().length === 2 && p.workers().every((w) => !before.includes(w)),
        "two new workers after HUP",
        30000,
      );
      await checkWorkers();
      const logged = () =>
        Deno.readTextFileSync(log).split("\n").filter((l) => l.includes('"GET '));
      await p.waitFor(() => logged().length >= 5, "the workers' access log lines").catch((e) => {
        throw new Error(`${e.message}\naccess log:\n${logged().join("\n")}`);
      });
    } finally {
      client.close();
      await p.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "root with --user nobody: the workers see a root-only --env-file's variables",
  ignore: SKIP !== null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-user-env-" });
    await Deno.writeTextFile(`${dir}/.env`, "GREETING=from root's file\n", { mode: 0o600 });
    const p = await startLsbaws([
      "-p",
      "0",
      "--user",
      "nobody",
      "--env-file",
      `${dir}/.env`,
      "tests/fixtures/apps/env_var.ts",
    ]);
    try {
      const res = await fetch(`http://127.0.0.1:${p.port()}/GREETING`, {
        headers: { Connection: "close" },
      });
      assert.match(await res.text(), /^from root's file \d+$/);
    } finally {
      await p.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "root with --group alone: one worker under a supervisor, uid kept, gid switched",
  ignore: SKIP !== null,
  async fn() {
    const p = await startLsbaws(["-p", "0", "--group", NOBODY!.group, APP]);
    try {
      await p.waitFor(() => p.workers().length === 1, "a worker under the supervisor");
      const [worker] = p.workers();
      assert.notEqual(worker, p.pid);
      const me = await whoami(`http://127.0.0.1:${p.port()}/`);
      assert.deepEqual([me.pid, me.uid, me.gid], [worker, 0, NOBODY!.gid]);
      assert.deepEqual(idsOf(p.pid).gid, 0);
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name:
    "root with --user nobody --io deno: each worker binds its own (unprivileged) port as nobody",
  ignore: SKIP !== null,
  async fn() {
    const port = freePort();
    const p = await startLsbaws([
      "--io",
      "deno",
      "--user",
      "nobody",
      "-w",
      "2",
      "-b",
      `127.0.0.1:${port}`,
      APP,
    ]);
    try {
      await p.waitFor(() => p.workers().length === 2, "2 workers");
      const me = await whoami(`http://127.0.0.1:${port}/`);
      assert.deepEqual([me.uid, me.gid], [NOBODY!.uid, NOBODY!.gid]);
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name: "root with --user nobody --io deno on a port < 1024: the workers cannot bind; exit 3",
  ignore: SKIP !== null,
  async fn() {
    const port = privilegedPort();
    assert.ok(port !== null);
    const p = await startLsbaws(
      ["--io", "deno", "--user", "nobody", "-b", `127.0.0.1:${port}`, APP],
      { waitListening: false },
    );
    const status = await p.status;
    await p.stop();
    assert.equal(status.code, 3, p.err.join("\n"));
    assert.match(p.err.join("\n"), /cannot listen: .*(Permission denied|os error 13)/);
  },
});

Deno.test({
  name: "an unknown user is exit 2; a process that is not root asking for root is exit 3",
  ignore: SKIP !== null,
  async fn() {
    const unknown = await startLsbaws(["--user", "no-such-user-lsbaws", APP], {
      waitListening: false,
    });
    assert.equal((await unknown.status).code, 2);
    await unknown.stop();
    assert.match(unknown.err.join("\n"), /--user no-such-user-lsbaws: no such user/);

    const asNobody = await startLsbaws(["--user", "root", APP], {
      waitListening: false,
      launcher: ["setpriv", `--reuid=${NOBODY!.uid}`, `--regid=${NOBODY!.gid}`, "--clear-groups"],
    });
    const status = await asNobody.status;
    await asNobody.stop();
    assert.equal(status.code, 3, asNobody.err.join("\n"));
    assert.match(
      asNobody.err.join("\n"),
      new RegExp(
        `only root can start workers as another user or group \\(this process runs as uid ` +
          `${NOBODY!.uid}`,
      ),
    );
  },
});
