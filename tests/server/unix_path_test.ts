/**
 * `server/unix_path.ts`, the unix-socket publishing steps both socket drivers share: the checks
 * before binding, the rename over the public path, the clean-up when a step after binding fails,
 * and removing the path only while it is still ours. (The drivers' own handover behaviour is
 * covered end to end in bind_test.ts, under both `--io` backends.)
 */
import assert from "node:assert/strict";
import {
  privateSocketPath,
  publishUnixPath,
  removeUnixPathIfOurs,
} from "../../server/unix_path.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

const listenAt = (staging: string) => Deno.listen({ transport: "unix", path: staging });

Deno.test("publishUnixPath binds under the private name and renames it over the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-upath-" });
  const path = `${dir}/s.sock`;
  let bound = "";
  const { listener, inode } = await publishUnixPath(path, (staging) => {
    bound = staging;
    return listenAt(staging);
  }, (l) => l.close());
  try {
    assert.equal(bound, privateSocketPath(path));
    assert.equal(bound, `${path}.lsbaws-${Deno.pid}`);
    const st = await Deno.lstat(path);
    assert.ok(st.isSocket);
    assert.equal(st.ino, inode);
    assert.equal(st.mode! & 0o777, 0o600);
    assert.equal(await exists(bound), false, "the private name is gone after the rename");
    const conn = await Deno.connect({ transport: "unix", path });
    const accepted = await listener.accept();
    conn.close();
    accepted.close();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("publishUnixPath replaces a stale socket and a leftover private name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-upath-" });
  const path = `${dir}/s.sock`;
  const stale = Deno.listen({ transport: "unix", path });
  const staleIno = (await Deno.lstat(path)).ino;
  await Deno.writeTextFile(privateSocketPath(path), "left over by an earlier process");
  const { listener, inode } = await publishUnixPath(path, listenAt, (l) => l.close());
  try {
    assert.notEqual(inode, staleIno);
    assert.equal((await Deno.lstat(path)).ino, inode);
  } finally {
    listener.close();
    stale.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("publishUnixPath leaves a file that is not a socket alone (AddrInUse, no bind)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-upath-" });
  const path = `${dir}/data.txt`;
  await Deno.writeTextFile(path, "keep me");
  let binds = 0;
  try {
    await assert.rejects(
      publishUnixPath(path, (staging) => {
        binds++;
        return listenAt(staging);
      }, (l) => l.close()),
      Deno.errors.AddrInUse,
    );
    assert.equal(binds, 0);
    assert.equal(await Deno.readTextFile(path), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("publishUnixPath releases the listener and removes the private name when a later step fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-upath-" });
  const path = `${dir}/s.sock`;
  const released: string[] = [];
  try {
    // A bind that creates no file: reading the private name's inode fails after the bind.
    await assert.rejects(
      publishUnixPath(path, () => "listener", (l) => released.push(l)),
      Deno.errors.NotFound,
    );
    assert.deepEqual(released, ["listener"]);
    // The rename fails: a directory appeared at the path after the check. The bound file stays
    // after `release` (as a socket closed through libc does; Deno's own listener unlinks it).
    const closed: string[] = [];
    await assert.rejects(
      publishUnixPath(path, (staging) => {
        Deno.writeTextFileSync(staging, "");
        Deno.mkdirSync(path);
        Deno.writeTextFileSync(`${path}/x`, "");
        return "bound";
      }, (l) => closed.push(l)),
    );
    assert.deepEqual(closed, ["bound"]);
    assert.equal(await exists(privateSocketPath(path)), false, "the private name is removed");
    assert.ok((await Deno.lstat(path)).isDirectory, "what is at the path is left alone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("removeUnixPathIfOurs removes the path only while it names our inode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-upath-" });
  const path = `${dir}/s.sock`;
  try {
    const ours = Deno.listen({ transport: "unix", path });
    const ino = (await Deno.lstat(path)).ino;
    removeUnixPathIfOurs(path, null);
    assert.ok(await exists(path), "a null inode removes nothing");
    removeUnixPathIfOurs(path, ino! + 1);
    assert.ok(await exists(path), "another inode (a successor's socket) is left alone");
    removeUnixPathIfOurs(path, ino);
    assert.equal(await exists(path), false);
    removeUnixPathIfOurs(path, ino); // already gone: quiet
    ours.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
