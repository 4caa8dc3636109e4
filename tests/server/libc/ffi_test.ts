/**
 * `server/libc/ffi.ts` and `server/libc/backend.ts`: errno names and their mapping to
 * `Deno.errors` (peer-gone ones stay peer-gone), `loadLibc`'s refusal reasons, and the
 * `--io` choice (auto falls back with a reason, libc refuses with one).
 */
import assert from "node:assert/strict";
import {
  ERRNO,
  errnoName,
  isResourceExhausted,
  type Libc,
  LibcError,
  loadLibc,
  type LoadProbe,
  toIoError,
} from "../../../server/libc/ffi.ts";
import { chooseIo, IoBackendError } from "../../../server/libc/backend.ts";
import { isPeerGone } from "../../../server/io_errors.ts";

Deno.test("LibcError carries errno, code and call; the message has the strerror text", () => {
  const e = new LibcError("accept4", ERRNO.EMFILE);
  assert.equal(e.errno, 24);
  assert.equal(e.code, "EMFILE");
  assert.equal(e.call, "accept4");
  assert.match(e.message, /accept4\(\) failed: Too many open files \(EMFILE, errno 24\)/);
  assert.equal(errnoName(9999), "E9999");
  assert.ok(isResourceExhausted(ERRNO.EMFILE) && isResourceExhausted(ERRNO.ENOBUFS));
  assert.ok(!isResourceExhausted(ERRNO.ECONNRESET));
});

Deno.test("toIoError maps errno values to Deno.errors with the LibcError as cause", () => {
  const cases: Array<[number, unknown]> = [
    [ERRNO.ECONNRESET, Deno.errors.ConnectionReset],
    [ERRNO.EPIPE, Deno.errors.BrokenPipe],
    [ERRNO.ENOTCONN, Deno.errors.NotConnected],
    [ERRNO.ECONNABORTED, Deno.errors.ConnectionAborted],
    [ERRNO.EBADF, Deno.errors.BadResource],
    [ERRNO.EADDRINUSE, Deno.errors.AddrInUse],
    [ERRNO.EACCES, Deno.errors.PermissionDenied],
    [ERRNO.EAGAIN, Deno.errors.WouldBlock],
  ];
  for (const [errno, cls] of cases) {
    const src = new LibcError("recv", errno);
    const mapped = toIoError(src) as Error;
    assert.ok(mapped instanceof (cls as typeof Error), `${errnoName(errno)} → ${mapped.name}`);
    assert.equal(mapped.cause, src);
  }
  for (const errno of [ERRNO.ECONNRESET, ERRNO.EPIPE, ERRNO.ENOTCONN]) {
    assert.ok(isPeerGone(toIoError(new LibcError("send", errno))), errnoName(errno));
  }
  const emfile = new LibcError("accept4", ERRNO.EMFILE);
  assert.equal(toIoError(emfile), emfile);
  assert.equal(toIoError("x"), "x");
});

function probe(over: Partial<LoadProbe>): LoadProbe {
  return {
    os: "linux",
    arch: "x86_64",
    ffiPermission: () => "granted",
    open: () => ({ sym: {} as Libc["sym"], errno: () => 0 }),
    ...over,
  };
}

Deno.test("loadLibc says why it cannot load: OS, architecture, FFI permission, missing library", () => {
  const reason = (p: LoadProbe) => {
    const r = loadLibc(p);
    assert.ok(!r.ok);
    return r.reason;
  };
  assert.match(reason(probe({ os: "darwin" })), /not Linux \(darwin\)/);
  assert.match(reason(probe({ arch: "riscv64" })), /unsupported architecture riscv64/);
  assert.match(reason(probe({ ffiPermission: () => "prompt" })), /FFI not permitted/);
  assert.match(reason(probe({ ffiPermission: () => "denied" })), /--allow-ffi/);
  assert.match(
    reason(probe({
      open: () => {
        throw new Error("Failed to register symbol epoll_wait");
      },
    })),
    /cannot load libc\.so\.6: Failed to register symbol epoll_wait/,
  );
  assert.ok(loadLibc(probe({})).ok);
});

Deno.test({
  name: "loadLibc loads the real library here (Linux, -A) and reads errno",
  ignore: Deno.build.os !== "linux",
  fn() {
    const r = loadLibc();
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.libc.sym.close(-1), -1);
    assert.equal(r.libc.errno(), ERRNO.EBADF);
  },
});

Deno.test("chooseIo: deno, auto with a fallback reason, libc refusing with the reason", () => {
  const tcp = [{ transport: "tcp" as const, hostname: "127.0.0.1", port: 0 }];
  const ok = () => ({ ok: true as const, libc: { sym: {} as Libc["sym"], errno: () => 0 } });
  const no = () => ({ ok: false as const, reason: "FFI not permitted" });
  assert.deepEqual(chooseIo("deno", false, tcp, ok), { kind: "deno", why: null });
  assert.equal(chooseIo("auto", false, tcp, ok).kind, "libc");
  assert.equal(chooseIo("libc", false, tcp, ok).kind, "libc");
  const tls = chooseIo("auto", true, tcp, ok);
  assert.ok(tls.kind === "deno" && /TLS/.test(tls.why ?? ""));
  const noFfi = chooseIo("auto", false, tcp, no);
  assert.ok(noFfi.kind === "deno" && noFfi.why === "FFI not permitted");
  const named = chooseIo(
    "auto",
    false,
    [{ transport: "tcp", hostname: "example.com", port: 1 }],
    ok,
  );
  assert.ok(named.kind === "deno" && /not an IP address/.test(named.why ?? ""));
  assert.throws(
    () => chooseIo("libc", true, tcp, ok),
    (e) => e instanceof IoBackendError && /--io libc: TLS/.test(e.message),
  );
  assert.throws(
    () => chooseIo("libc", false, tcp, no),
    (e) => e instanceof IoBackendError && /FFI not permitted/.test(e.message),
  );
  const unix = [{ transport: "unix" as const, path: "/tmp/a.sock" }];
  assert.equal(chooseIo("auto", false, unix, ok).kind, "libc");
});
