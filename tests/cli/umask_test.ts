/**
 * `--umask` (gunicorn's): the value's grammar, and real processes: the mask is set before the
 * access log is created, the app and every worker run with it, the pid file stays 644 (as
 * gunicorn's) and a unix socket keeps `--unix-socket-mode`; without the setting lsbaws keeps the
 * mask it was started with.
 */
import assert from "node:assert/strict";
import { ConfigError, parseCli } from "../../server/config.ts";
import { freePort, type Proc, reachEachWorker, startLsbaws } from "../_support/proc.ts";

const APP = "tests/fixtures/apps/whoami.ts:app";

interface Whoami {
  pid: number;
  umask: string;
  created: string | null;
}

async function ask(port: number, query = ""): Promise<Whoami> {
  const res = await fetch(`http://127.0.0.1:${port}/${query}`, {
    headers: { Connection: "close" },
  });
  assert.equal(res.status, 200);
  return await res.json() as Whoami;
}

function modeOf(path: string): string {
  return (Deno.statSync(path).mode! & 0o777).toString(8);
}

Deno.test("--umask takes one to three octal digits", () => {
  for (const ok of ["022", "27", "0077", "0", "777"]) {
    assert.equal(parseCli(["--umask", ok, "a.ts"], {}).kind, "run", ok);
  }
  for (const bad of ["8", "0o22", "1022", "abc", "-22", " 022"]) {
    assert.throws(
      () => parseCli(["--umask", bad, "a.ts"], {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === `--umask must be one to three octal digits (022, 027, 077), got '${bad}'`,
      bad,
    );
  }
});

Deno.test("a bad --umask is a usage error (exit 2) before anything starts", async () => {
  const p = await startLsbaws(["--umask", "9", APP], { waitListening: false });
  const status = await p.status;
  await p.stop();
  assert.equal(status.code, 2, p.err.join("\n"));
  assert.match(p.err.join("\n"), /--umask must be one to three octal digits/);
});

Deno.test("--umask 077: the access log and the app's files are the owner's alone; the pid file stays 644", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-umask-" });
  const port = freePort();
  const p = await startLsbaws([
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--umask",
    "077",
    "--pid",
    `${dir}/lsbaws.pid`,
    "--access-log",
    `${dir}/access.log`,
    APP,
  ]);
  try {
    const me = await ask(port, `?create=${dir}/app.txt`);
    assert.equal(me.umask, "077");
    assert.equal(me.created, "600", "the app's new file");
    assert.equal(modeOf(`${dir}/lsbaws.pid`), "644", "the pid file is for everyone to read");
    assert.equal(modeOf(`${dir}/access.log`), "600", "the access log");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Asks every worker of `p` for its mask. */
async function masksOfWorkers(p: Proc, port: number): Promise<Set<string>> {
  await p.waitFor(() => p.workers().length === 2, "2 workers");
  const masks = new Set<string>();
  const { pids } = await reachEachWorker(p.workers(), async () => {
    const me = await ask(port);
    masks.add(me.umask);
    return me.pid;
  });
  assert.equal(pids.size, 2, "both workers answered");
  return masks;
}

Deno.test("-w 2 --umask 027: both workers run with it; a unix socket keeps --unix-socket-mode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-umask-" });
  const port = freePort();
  const p = await startLsbaws([
    "-w",
    "2",
    "--bind",
    `127.0.0.1:${port}`,
    "--bind",
    `unix:${dir}/s.sock`,
    "--unix-socket-mode",
    "660",
    "--umask",
    "027",
    APP,
  ]);
  try {
    assert.deepEqual([...await masksOfWorkers(p, port)], ["027"]);
    assert.equal(modeOf(`${dir}/s.sock`), "660", "the socket's mode is the setting's");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without --umask the mask lsbaws was started with stays, in the workers too", async () => {
  const port = freePort();
  const p = await startLsbaws(["-w", "2", "--host", "127.0.0.1", "--port", String(port), APP], {
    launcher: ["sh", "-c", 'umask 007 && exec "$0" "$@"'],
  });
  try {
    assert.deepEqual([...await masksOfWorkers(p, port)], ["007"]);
  } finally {
    await p.stop();
  }
});
