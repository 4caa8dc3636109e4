/**
 * The static responder's small-file cache: a cached file is served from memory and every kind of
 * change on disk (content, size, mtime, inode, symlink target, deletion, a sibling appearing or
 * vanishing) is seen on the next request; files changed less than `minAgeMs` ago are not cached.
 */
import assert from "node:assert/strict";
import { createStaticHandler, type StaticHandler } from "../../../server/static/mod.ts";
import { HotCache, readWhole } from "../../../server/static/hot_cache.ts";
import { fake, makeTree, openFilesUnder, type Recorded, type Tree } from "./_fake.ts";

async function get(
  h: StaticHandler,
  target: string,
  headers: Array<[string, string]> = [],
  method = "GET",
): Promise<Recorded> {
  const r = fake({ target, headers, method });
  await h.serve(r.ex);
  assert.ok(r.ended, `${target}: response ended`);
  return r;
}

function withCache(name: string, fn: (t: Tree, h: StaticHandler) => Promise<void>): void {
  Deno.test(name, async () => {
    const t = await makeTree();
    try {
      const h = createStaticHandler([{ prefix: "/static", dir: t.root }], { cacheMinAgeMs: 0 });
      await fn(t, h);
      assert.equal(await openFilesUnder(t.base), 0, "every opened file was closed");
    } finally {
      await t.remove();
    }
  });
}

withCache(
  "a small file is cached; range, HEAD and 304 are answered from the cache",
  async (_t, h) => {
    const first = await get(h, "/static/hello.txt");
    assert.equal(first.text(), "hello world\n");
    assert.equal(h.cachedFiles, 1);
    const again = await get(h, "/static/hello.txt");
    assert.equal(again.text(), "hello world\n");
    assert.equal(again.header("etag"), first.header("etag"));
    assert.equal(again.header("content-length"), "12");
    assert.equal(h.cachedFiles, 1);
    const range = await get(h, "/static/hello.txt", [["range", "bytes=6-10"]]);
    assert.equal(range.status, 206);
    assert.equal(range.text(), "world");
    assert.equal(range.header("content-range"), "bytes 6-10/12");
    const head = await get(h, "/static/hello.txt", [], "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.chunks.length, 0);
    assert.equal(head.header("content-length"), "12");
    const cond = await get(h, "/static/hello.txt", [["if-none-match", first.header("etag")!]]);
    assert.equal(cond.status, 304);
    assert.equal(cond.chunks.length, 0);
    // Large files are never cached.
    await get(h, "/static/big.bin");
    assert.equal(h.cachedFiles, 1);
  },
);

withCache(
  "an edit of the same size with a new mtime, a longer edit and a rename are seen",
  async (t, h) => {
    const path = `${t.root}/hello.txt`;
    assert.equal((await get(h, "/static/hello.txt")).text(), "hello world\n");
    Deno.writeTextFileSync(path, "HELLO WORLD\n");
    Deno.utimeSync(path, new Date(), new Date(Date.now() + 5_000));
    assert.equal((await get(h, "/static/hello.txt")).text(), "HELLO WORLD\n");
    Deno.writeTextFileSync(path, "a longer body now\n");
    assert.equal((await get(h, "/static/hello.txt")).text(), "a longer body now\n");
    Deno.writeTextFileSync(`${t.root}/next.txt`, "renamed in!\n");
    Deno.renameSync(`${t.root}/next.txt`, path);
    assert.equal((await get(h, "/static/hello.txt")).text(), "renamed in!\n");
    Deno.removeSync(path);
    assert.equal((await get(h, "/static/hello.txt")).status, 404);
  },
);

withCache(
  "a symlink turned to point outside the directory is refused, not served from cache",
  async (t, h) => {
    assert.equal((await get(h, "/static/link-in.txt")).text(), "hello world\n");
    assert.equal(h.cachedFiles, 1);
    Deno.removeSync(`${t.root}/link-in.txt`);
    Deno.symlinkSync(`${t.outside}/secret.txt`, `${t.root}/link-in.txt`);
    const r = await get(h, "/static/link-in.txt");
    assert.equal(r.status, 404);
    assert.ok(!r.text().includes("SECRET"));
  },
);

withCache(
  "a precompressed sibling appearing or vanishing is seen at the next request",
  async (t, h) => {
    const ae: Array<[string, string]> = [["accept-encoding", "gzip"]];
    const plain = await get(h, "/static/hello.txt", ae);
    assert.equal(plain.header("content-encoding"), undefined);
    assert.equal(plain.text(), "hello world\n");
    Deno.writeTextFileSync(`${t.root}/hello.txt.gz`, "GZ-HELLO");
    const gz = await get(h, "/static/hello.txt", ae);
    assert.equal(gz.header("content-encoding"), "gzip");
    assert.equal(gz.text(), "GZ-HELLO");
    // The identity request has its own entry and is unaffected.
    assert.equal((await get(h, "/static/hello.txt")).text(), "hello world\n");
    Deno.removeSync(`${t.root}/hello.txt.gz`);
    const back = await get(h, "/static/hello.txt", ae);
    assert.equal(back.header("content-encoding"), undefined);
    assert.equal(back.text(), "hello world\n");
  },
);

withCache("a client gone before the cached body is written is a peer-gone error", async (_t, h) => {
  await get(h, "/static/hello.txt");
  const r = fake({ target: "/static/hello.txt", abortAfter: 1 });
  await assert.rejects(h.serve(r.ex), (err: Error) => err instanceof Deno.errors.ConnectionReset);
});

Deno.test("HotCache: refuses files changed less than minAgeMs ago, and large ones", () => {
  const cache = new HotCache({ maxFileBytes: 100, minAgeMs: 3000 });
  const now = Date.parse("2026-01-01T00:00:10Z");
  const info = (size: number, changedMs: number) =>
    ({
      size,
      dev: 1,
      ino: 2,
      mtime: new Date(changedMs),
      ctime: new Date(changedMs),
      isFile: true,
    }) as Deno.FileInfo;
  assert.equal(cache.accepts(info(10, now - 1000), null, now), false, "changed 1 s ago");
  assert.equal(cache.accepts(info(10, now - 3000), null, now), true, "changed 3 s ago");
  assert.equal(cache.accepts(info(101, now - 9000), null, now), false, "over maxFileBytes");
  assert.equal(cache.accepts(info(10, now - 9000), info(0, now - 10), now), false, "fresh dir");
  assert.equal(new HotCache({ maxFileBytes: 0 }).enabled, false);
});

Deno.test("HotCache: evicts the oldest entries beyond maxEntries or maxTotalBytes", () => {
  const cache = new HotCache({ maxFileBytes: 100, maxEntries: 2, maxTotalBytes: 150 });
  const entry = (n: number) => ({
    statPath: "/nonexistent",
    realPath: "/nonexistent",
    coding: undefined,
    type: "text/plain",
    info: { size: n } as Deno.FileInfo,
    bytes: new Uint8Array(n),
    dir: null,
  });
  cache.store("a", entry(50));
  cache.store("b", entry(50));
  cache.store("c", entry(50));
  assert.equal(cache.size, 2, "maxEntries");
  cache.store("d", entry(100));
  assert.equal(cache.size, 2, "maxTotalBytes: b evicted for d (c + d = 150)");
  cache.store("e", entry(100));
  assert.equal(cache.size, 1, "c and d evicted for e");
  // An entry whose file is gone is dropped at lookup.
  assert.equal(cache.lookup("e"), null);
  assert.equal(cache.size, 0);
});

Deno.test("readWhole: the whole file, or null when its size is not what fstat said", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "abcdef");
    const f = Deno.openSync(`${dir}/f`);
    try {
      assert.equal(new TextDecoder().decode(readWhole(f, 6)!), "abcdef");
      assert.equal(readWhole(f, 4), null, "grew");
      assert.equal(readWhole(f, 8), null, "shrank");
    } finally {
      f.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
