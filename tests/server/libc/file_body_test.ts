/**
 * The libc driver's zero-copy helpers: finding an fd on a `Deno.FsFile`'s inode (by path, or
 * through `/proc/self/fd` when the path now names another file) and `FileSend` over a socket.
 */
import assert from "node:assert/strict";
import { loadLibc } from "../../../server/libc/ffi.ts";
import { fileFdOf, FileSend, fileSendStats } from "../../../server/libc/file_body.ts";

const loaded = loadLibc();

Deno.test({
  name: "fileFdOf: reopens the path when it is the same inode, else finds the open file's fd",
  ignore: !loaded.ok,
  fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const dir = Deno.makeTempDirSync();
    const path = `${dir}/a.txt`;
    Deno.writeTextFileSync(path, "first");
    const file = Deno.openSync(path);
    try {
      const info = file.statSync();
      const body = { file, offset: 0, length: 5, dev: info.dev, ino: info.ino!, path };
      const byPath = fileFdOf(libc, body);
      assert.ok(byPath > 2);
      libc.sym.close(byPath);
      // Replace the file: the path now names another inode; the open file is still found.
      Deno.removeSync(path);
      Deno.writeTextFileSync(path, "second!");
      const fallbacks = fileSendStats.fallbacks;
      const scanned = fileFdOf(libc, body);
      assert.ok(scanned > 2);
      assert.equal(fileSendStats.fallbacks, fallbacks);
      const buf = new Uint8Array(16);
      const n = libc.sym.read(scanned, buf, 16n);
      assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "first");
      libc.sym.close(scanned);
      // No fd on that inode at all: -1, counted as a fallback.
      const gone = fileFdOf(libc, { ...body, ino: info.ino! + 1_000_000, path: undefined });
      assert.equal(gone, -1);
      assert.equal(fileSendStats.fallbacks, fallbacks + 1);
    } finally {
      file.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "FileSend: sends a range of a file to a socket and stops early at the end of the file",
  ignore: !loaded.ok,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const dir = Deno.makeTempDirSync();
    const path = `${dir}/b.txt`;
    Deno.writeTextFileSync(path, "0123456789");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await listener.accept();
    listener.close();
    try {
      const out = findSocketFd(client);
      const fd = libc.sym.open!(new TextEncoder().encode(path + "\0"), 0o2000000);
      const f = new FileSend(libc, out, fd, 3, 100);
      assert.equal(f.step(), true);
      assert.equal(f.sent, 7, "the file ended after 7 bytes");
      f.close();
      f.close();
      const buf = new Uint8Array(16);
      const n = await server.read(buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "3456789");
    } finally {
      client.close();
      server.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/**
 * The kernel fd of a connected Deno socket, through /proc/net/tcp: the row with its local and
 * remote ports and a live inode (a local port alone is ambiguous: a TIME_WAIT row of an earlier
 * connection from the same ephemeral port, inode 0, can come first).
 */
function findSocketFd(conn: Deno.TcpConn): number {
  const hex = (a: Deno.Addr) =>
    (a as Deno.NetAddr).port.toString(16).toUpperCase().padStart(4, "0");
  const local = hex(conn.localAddr);
  const remote = hex(conn.remoteAddr);
  const line = Deno.readTextFileSync("/proc/net/tcp").split("\n").find((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${local}`) && f[2]?.endsWith(`:${remote}`) && f[9] !== "0";
  });
  if (line === undefined) throw new Error(`no /proc/net/tcp row for :${local} -> :${remote}`);
  const inode = line.trim().split(/\s+/)[9];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === `socket:[${inode}]`) {
        return Number(e.name);
      }
    } catch {
      // gone
    }
  }
  throw new Error("socket fd not found");
}
