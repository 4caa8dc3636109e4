/**
 * Outbox: a failed send closes the connection and rejects the flush, and a flush nobody waits for
 * (the end of a batch) never becomes an unhandled rejection, which would end the process.
 */
import assert from "node:assert/strict";
import { Outbox } from "../../../server/libc/outbox.ts";
import { ERRNO, type Libc, type LibcSymbols } from "../../../server/libc/ffi.ts";

/** A C library whose `send` fails with `errno`; counts the calls. */
function failingLibc(errno: number): { libc: Libc; sends: () => number } {
  let sends = 0;
  const sym = {
    send: () => {
      sends++;
      return -1;
    },
  } as unknown as LibcSymbols;
  return { libc: { sym, errno: () => errno }, sends: () => sends };
}

/** Queued output of `n` bytes, once. */
function queued(n: number) {
  let size = n;
  return {
    out: {
      get size() {
        return size;
      },
      release() {},
    },
    takeOutput(): Uint8Array[] {
      const pieces = size > 0 ? [new Uint8Array(size)] : [];
      size = 0;
      return pieces;
    },
  };
}

/** Runs `body`, then reports every unhandled rejection seen before a 20 ms timer fired. */
async function unhandledDuring(body: () => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (e: PromiseRejectionEvent) => {
    seen.push(e.reason);
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    body();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  return seen;
}

Deno.test("Outbox: a send that fails at once (EPIPE) closes and rejects, handled even if nobody waits", async () => {
  const cases: Array<[number, new (...args: never[]) => Error]> = [
    [ERRNO.EPIPE, Deno.errors.BrokenPipe],
    [ERRNO.ECONNRESET, Deno.errors.ConnectionReset],
  ];
  for (const [errno, mapped] of cases) {
    const { libc, sends } = failingLibc(errno);
    let closes = 0;
    const outbox = new Outbox(libc, 7, queued(5), () => closes++);
    let flushed: Promise<void> | null = null;
    const seen = await unhandledDuring(() => {
      flushed = outbox.flush(); // As the end of a batch does: not awaited.
    });
    assert.deepEqual(seen, [], `errno ${errno}: no unhandled rejection`);
    assert.equal(sends(), 1);
    assert.equal(closes, 1, "the connection is closed");
    await assert.rejects(flushed!, mapped);
  }
});

Deno.test("Outbox: a flush after the connection failed rejects, also handled", async () => {
  const { libc } = failingLibc(ERRNO.EPIPE);
  const outbox = new Outbox(libc, 7, queued(5), () => {});
  outbox.fail(() => new Error("closed"));
  let flushed: Promise<void> | null = null;
  const seen = await unhandledDuring(() => {
    flushed = outbox.flush();
  });
  assert.deepEqual(seen, []);
  await assert.rejects(flushed!, Deno.errors.BadResource);
});
