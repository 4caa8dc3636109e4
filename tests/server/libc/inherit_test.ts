/**
 * Inherited listening sockets, in-process (server/libc/inherit.ts, server/libc/socket.ts,
 * server/libc/listen.ts): reading the sd_listen_fds variables, the worker descriptor list, taking
 * over a descriptor (what is refused, and the flags it gets), the supervisor's own listeners
 * (inheritable, unix paths published and removed), and the backend requirement.
 */
import assert from "node:assert/strict";
import {
  ActivationError,
  decodeInherited,
  encodeInherited,
  libcForInherited,
  SharedListeners,
  takeListenFds,
} from "../../../server/libc/inherit.ts";
import { EFD_CLOEXEC, F_DUPFD_CLOEXEC, loadLibc, SOCK_STREAM } from "../../../server/libc/ffi.ts";
import {
  adoptListenSocket,
  closeSocket,
  InheritedSocketError,
  listenSocket,
} from "../../../server/libc/socket.ts";
import { adoptLibcEndpoints } from "../../../server/libc/listen.ts";
import { createLogger } from "../../../server/log.ts";

const loaded = loadLibc();
const HAS_LIBC = loaded.ok;

/** The open-file flags of one of this process's descriptors (octal, from /proc). */
function fdFlags(fd: number): number {
  const info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
  return parseInt(/^flags:\s+([0-7]+)$/m.exec(info)![1], 8);
}
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;

Deno.test("takeListenFds reads the sd_listen_fds variables and unsets them", () => {
  const unset: string[] = [];
  const env = { LISTEN_PID: "42", LISTEN_FDS: "2", LISTEN_FDNAMES: "web:admin", OTHER: "x" };
  assert.deepEqual(takeListenFds(env, 42, (n) => unset.push(n)), [
    { fd: 3, name: "web" },
    { fd: 4, name: "admin" },
  ]);
  assert.deepEqual(unset.sort(), ["LISTEN_FDNAMES", "LISTEN_FDS", "LISTEN_PID"]);
  assert.deepEqual(takeListenFds({ LISTEN_PID: "42", LISTEN_FDS: "1" }, 42, () => {}), [{ fd: 3 }]);
});

Deno.test("takeListenFds: absent or meant for another process is null (and still unset)", () => {
  let unset = 0;
  assert.equal(takeListenFds({}, 42, () => unset++), null);
  assert.equal(unset, 0, "nothing to unset");
  assert.equal(takeListenFds({ LISTEN_PID: "41", LISTEN_FDS: "1" }, 42, () => unset++), null);
  assert.equal(unset, 3);
  assert.equal(takeListenFds({ LISTEN_FDS: "1" }, 42, () => {}), null, "no LISTEN_PID");
});

Deno.test("takeListenFds: malformed values are ActivationErrors", () => {
  for (
    const env of [
      { LISTEN_PID: "42", LISTEN_FDS: "x" },
      { LISTEN_PID: "42", LISTEN_FDS: "-1" },
      { LISTEN_PID: "42", LISTEN_FDS: "0" },
      { LISTEN_PID: "abc", LISTEN_FDS: "1" },
    ]
  ) {
    assert.throws(() => takeListenFds(env, 42, () => {}), ActivationError, JSON.stringify(env));
  }
});

Deno.test("the worker descriptor list round-trips; anything else decodes to null", () => {
  const list = [{ fd: 3, bind: "127.0.0.1:8000" }, { fd: 4, bind: "unix:/run/a.sock" }, { fd: 5 }];
  assert.deepEqual(decodeInherited(encodeInherited(list)), list);
  for (const bad of [undefined, "", "nope", "{}", "[]", '[{"fd":-1}]', '[{"fd":3,"bind":1}]']) {
    assert.equal(decodeInherited(bad), null, String(bad));
  }
});

Deno.test("inherited sockets need the libc backend: --io deno and TLS are ActivationErrors", () => {
  assert.throws(() => libcForInherited("deno", false), (err) => {
    assert.ok(err instanceof ActivationError);
    assert.match(err.message, /libc backend.*--io deno/);
    return true;
  });
  assert.throws(() => libcForInherited("auto", true), /TLS/);
});

Deno.test({
  name: "adoptListenSocket takes a listening socket (nonblocking, close-on-exec as asked)",
  ignore: !HAS_LIBC,
  fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const { fd, addr } = listenSocket(
      libc,
      { transport: "tcp", hostname: "127.0.0.1", port: 0 },
      { backlog: 16, inheritable: true },
    );
    try {
      assert.equal(fdFlags(fd) & O_CLOEXEC, 0, "inheritable: no close-on-exec");
      assert.deepEqual(adoptListenSocket(libc, fd, true), addr);
      assert.equal(fdFlags(fd) & O_CLOEXEC, O_CLOEXEC, "cloexec set");
      assert.equal(fdFlags(fd) & O_NONBLOCK, O_NONBLOCK);
      assert.deepEqual(adoptListenSocket(libc, fd, false), addr);
      assert.equal(fdFlags(fd) & O_CLOEXEC, 0, "cloexec cleared");
    } finally {
      closeSocket(libc, fd);
    }
  },
});

Deno.test({
  name: "adoptListenSocket refuses what is not a listening stream socket, naming the fd",
  ignore: !HAS_LIBC,
  fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const notSocket = libc.sym.eventfd(0, EFD_CLOEXEC);
    const unlistened = libc.sym.socket(2, SOCK_STREAM, 0);
    const dgram = libc.sym.socket(2, 2, 0);
    try {
      const cases: [number, RegExp][] = [
        [notSocket, /is not a socket \(ENOTSOCK\)/],
        [unlistened, /is a stream socket that is not listening/],
        [dgram, /is not a stream socket/],
        [987, /is not a socket \(EBADF\)/],
      ];
      for (const [fd, re] of cases) {
        assert.throws(() => adoptListenSocket(libc, fd, true), (err) => {
          assert.ok(err instanceof InheritedSocketError);
          assert.equal(err.fd, fd);
          assert.match(err.message, new RegExp(`^inherited fd ${fd} `));
          assert.match(err.message, re);
          return true;
        });
      }
    } finally {
      for (const fd of [notSocket, unlistened, dgram]) closeSocket(libc, fd);
    }
  },
});

Deno.test({
  name: "adoptLibcEndpoints serves an inherited fd and reports the bind spec it was given",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const shared = await SharedListeners.bind(
      libc,
      [{ transport: "tcp", hostname: "127.0.0.1", port: 0 }],
      16,
    );
    const logger = createLogger({ level: "critical", accessLog: "", accessLogFormat: "common" });
    try {
      const [s] = shared.sockets;
      assert.match(s.bind!, /^127\.0\.0\.1:\d+$/);
      const port = Number(s.bind!.split(":")[1]);
      // A second descriptor for the same socket, as a worker holds it.
      const dup = libc.sym.fcntl(s.fd, F_DUPFD_CLOEXEC, 0);
      const bound = await adoptLibcEndpoints(libc, [{ fd: dup, bind: "127.0.0.1:1" }], logger);
      assert.deepEqual(bound.endpoints[0].addr, {
        transport: "tcp",
        hostname: "127.0.0.1",
        port: 1,
      });
      bound.endpoints[0].close();
      await bound.stop();
      // The endpoint closed its own descriptor; the socket still listens through the other.
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
    } finally {
      shared.release();
      logger.close();
    }
  },
});

Deno.test({
  name: "SharedListeners.bind: inheritable sockets, a unix path published once and removed",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-shared-" });
    const path = `${dir}/s.sock`;
    try {
      const shared = await SharedListeners.bind(libc, [
        { transport: "tcp", hostname: "127.0.0.1", port: 0 },
        { transport: "unix", path },
      ], 16);
      assert.equal(shared.sockets.length, 2);
      assert.equal(shared.sockets[1].bind, `unix:${path}`);
      for (const s of shared.sockets) assert.equal(fdFlags(s.fd) & O_CLOEXEC, 0, `fd ${s.fd}`);
      assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["s.sock"]);
      (await Deno.connect({ transport: "unix", path })).close();
      shared.close();
      assert.ok(Deno.statSync(path).isSocket, "close() leaves the path");
      shared.release();
      shared.release();
      assert.deepEqual([...Deno.readDirSync(dir)], [], "release() removes it");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "SharedListeners.bind: a taken port fails as AddrInUse and closes what it bound",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-shared-" });
    try {
      const port = (blocker.addr as Deno.NetAddr).port;
      await assert.rejects(
        SharedListeners.bind(loaded.libc, [
          { transport: "unix", path: `${dir}/a.sock` },
          { transport: "tcp", hostname: "127.0.0.1", port },
        ], 16),
        Deno.errors.AddrInUse,
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "the unix path bound first is removed");
    } finally {
      blocker.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
