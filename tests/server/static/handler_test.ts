/**
 * Static files over a fake `Exchange`: matching, methods, traversal and symlink escapes,
 * dotfiles, index files and redirects, headers, conditionals, ranges, precompressed siblings,
 * streaming with back-pressure and client aborts. Each test builds its own temp tree.
 */
import assert from "node:assert/strict";
import { createStaticHandler, type StaticHandler } from "../../../server/static/mod.ts";
import { isPeerGone } from "../../../server/io_errors.ts";
import {
  fake,
  type FakeOptions,
  makeTree,
  openFilesUnder,
  type Recorded,
  type Tree,
} from "./_fake.ts";

type Opts = Omit<FakeOptions, "target">;

async function get(h: StaticHandler, target: string, o: Opts = {}): Promise<Recorded> {
  const r = fake({ target, ...o });
  assert.ok(h.match(r.ex.head), `${target} should match`);
  await h.serve(r.ex);
  assert.ok(r.ended, `${target}: response ended`);
  return r;
}

function withTree(
  name: string,
  fn: (t: Tree, h: StaticHandler) => Promise<void>,
  options = {},
): void {
  Deno.test(name, async () => {
    const t = await makeTree();
    try {
      await fn(t, createStaticHandler([{ prefix: "/static", dir: t.root }], options));
      assert.equal(await openFilesUnder(t.base), 0, "every opened file was closed");
    } finally {
      await t.remove();
    }
  });
}

withTree("match: a cheap prefix check at segment boundaries, longest prefix first", async (t) => {
  const h = createStaticHandler([
    { prefix: "/static", dir: t.root },
    { prefix: "/static/docs", dir: `${t.root}/docs` },
  ]);
  const m = (target: string, targetForm?: "absolute" | "asterisk" | "authority") =>
    h.match(fake({ target, targetForm }).ex.head);
  assert.equal(h.mounts[0].prefix, "/static/docs");
  for (const yes of ["/static", "/static/", "/static?x", "/static/nope.txt", "/static/../x"]) {
    assert.ok(m(yes), yes);
  }
  assert.ok(m("http://example.com/static/hello.txt", "absolute"));
  for (const no of ["/", "/staticx", "/stat", "/app/static/x", "/st%61tic/hello.txt"]) {
    assert.ok(!m(no), no);
  }
  assert.ok(!m("http://example.com/other", "absolute"));
  assert.ok(!m("*", "asterisk"));
  assert.ok(!m("example.com:443", "authority"));
  // The longer prefix serves its own directory.
  const r = await get(h, "/static/docs/index.html");
  assert.equal(r.text(), "<p>docs</p>\n");
  assert.equal((await get(h, "/static/docs/docs/index.html")).status, 404);
  // A root mount takes every origin-form path.
  const root = createStaticHandler([{ prefix: "/", dir: t.root }]);
  assert.ok(root.match(fake({ target: "/anything" }).ex.head));
  assert.equal((await get(root, "/hello.txt")).text(), "hello world\n");
});

withTree("GET a file: body and every representation header", async (t, h) => {
  const r = await get(h, "/static/hello.txt?ignored=1");
  assert.equal(r.status, 200);
  assert.equal(r.text(), "hello world\n");
  assert.equal(r.header("content-type"), "text/plain; charset=utf-8");
  assert.equal(r.header("content-length"), "12");
  assert.equal(r.header("accept-ranges"), "bytes");
  assert.equal(r.header("vary"), "Accept-Encoding");
  assert.match(r.header("etag")!, /^"[0-9a-f-]+"$/);
  const st = await Deno.stat(`${t.root}/hello.txt`);
  assert.equal(r.header("last-modified"), new Date(st.mtime!.getTime()).toUTCString());
  assert.equal(r.header("cache-control"), undefined, "no Cache-Control unless configured");
  assert.equal(r.header("content-encoding"), undefined);
  assert.equal(
    (await get(h, "/static/page.html")).header("content-type"),
    "text/html; charset=utf-8",
  );
  assert.equal(
    (await get(h, "/static/logo.SVG")).header("content-type"),
    "image/svg+xml; charset=utf-8",
  );
  assert.equal((await get(h, "/static/noext")).header("content-type"), "application/octet-stream");
  assert.equal(
    (await get(h, "/static/file.unknownext")).header("content-type"),
    "application/octet-stream",
  );
  assert.equal((await get(h, "/static/a%20b.txt")).text(), "space\n");
  assert.equal((await get(h, "/static/%C3%BCn%C3%AF.txt")).text(), "unicode\n");
  assert.equal((await get(h, "/static/link-in.txt")).text(), "hello world\n", "symlink inside");
  const e = await get(h, "/static/empty.txt");
  assert.equal(e.status, 200);
  assert.equal(e.header("content-length"), "0");
  assert.equal(e.chunks.length, 0);
  const abs = await get(h, "http://example.com/static/hello.txt");
  assert.equal(abs.text(), "hello world\n");
});

withTree("Cache-Control: public, max-age=N when configured", async (t) => {
  const h = createStaticHandler([{ prefix: "/s", dir: t.root }], { maxAgeSeconds: 3600 });
  assert.equal((await get(h, "/s/hello.txt")).header("cache-control"), "public, max-age=3600");
  const etag = (await get(h, "/s/hello.txt")).header("etag")!;
  const r = await get(h, "/s/hello.txt", { headers: [["if-none-match", etag]] });
  assert.equal(r.header("cache-control"), "public, max-age=3600");
  assert.equal((await get(h, "/s/nope")).header("cache-control"), undefined, "not on a 404");
});

withTree("HEAD: the GET headers with the full Content-Length and no body", async (_t, h) => {
  const r = await get(h, "/static/hello.txt", { method: "HEAD" });
  assert.equal(r.status, 200);
  assert.equal(r.header("content-length"), "12");
  assert.equal(r.chunks.length, 0);
  const ranged = await get(h, "/static/hello.txt", {
    method: "HEAD",
    headers: [["range", "bytes=0-1"]],
  });
  assert.equal(ranged.status, 200, "Range applies to GET only");
  assert.equal(ranged.header("content-range"), undefined);
  const missing = await get(h, "/static/nope.txt", { method: "HEAD" });
  assert.equal(missing.status, 404);
  assert.equal(missing.chunks.length, 0);
});

withTree("other methods: 405 with Allow: GET, HEAD", async (_t, h) => {
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"]) {
    const r = await get(h, "/static/hello.txt", { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.header("allow"), "GET, HEAD");
    assert.equal(r.text(), "405 Method Not Allowed\n");
  }
});

withTree("nothing outside DIR: every traversal form is 404 or 400", async (_t, h) => {
  const cases: Array<[string, number]> = [
    ["/static/../secret.txt", 404],
    ["/static/..", 404],
    ["/static/docs/../../secret.txt", 404],
    ["/static/%2e%2e/secret.txt", 404],
    ["/static/%2E%2E/secret.txt", 404],
    ["/static/.%2e/secret.txt", 404],
    ["/static/..%2fsecret.txt", 404],
    ["/static/..%2Fsecret.txt", 404],
    ["/static/..%5csecret.txt", 404],
    ["/static/..\\secret.txt", 404],
    ["/static/docs%2f..%2f..%2fsecret.txt", 404],
    ["/static//secret.txt", 404],
    ["/static/./hello.txt", 404],
    ["/static/%c0%ae%c0%ae/secret.txt", 400],
    ["/static/%e0%80%ae%e0%80%ae/secret.txt", 400],
    ["/static/hello.txt%00", 400],
    ["/static/hello.txt%00.png", 400],
    ["/static/%", 400],
    ["/static/%zz", 400],
    ["/static/%ff", 400],
    ["http://example.com/static/../secret.txt", 404],
    ["http://example.com/static/%2e%2e/secret.txt", 404],
    ["/static/link-out.txt", 404],
    ["/static/link-sibling.txt", 404],
    ["/static/linkdir-out/secret.txt", 404],
    ["/static/linkdir-out/", 404],
    ["/static/loop-a", 404],
    ["/static/pipe.txt", 404],
    ["/static/.env", 404],
    ["/static/.git/config", 404],
    ["/static/.git/", 404],
    ["/static/sub/.hidden/x.txt", 404],
    ["/static/%2eenv", 404],
    ["/static/nope.txt", 404],
  ];
  for (const [target, status] of cases) {
    const r = await get(h, target);
    assert.equal(r.status, status, target);
    assert.ok(!r.text().includes("SECRET"), target);
    assert.equal(r.header("content-type"), "text/plain; charset=utf-8", target);
  }
  assert.equal((await get(h, "/static/sub/ok.txt")).status, 200, "a normal sibling is served");
});

withTree("directories: index.html, 301 to the slash form, never a listing", async (t, h) => {
  const idx = await get(h, "/static/docs/");
  assert.equal(idx.status, 200);
  assert.equal(idx.text(), "<p>docs</p>\n");
  assert.equal(idx.header("content-type"), "text/html; charset=utf-8");
  const redirect = await get(h, "/static/docs");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.header("location"), "/static/docs/");
  assert.equal((await get(h, "/static/docs?a=1&b")).header("location"), "/static/docs/?a=1&b");
  assert.equal(
    (await get(h, "http://example.com/static/docs")).header("location"),
    "/static/docs/",
  );
  for (
    const target of ["/static", "/static/", "/static/empty", "/static/empty/", "/static/idxdir/"]
  ) {
    assert.equal((await get(h, target)).status, 404, target);
  }
  assert.equal((await get(h, "/static/hello.txt/")).status, 404, "a file with a slash");
  const root = createStaticHandler([{ prefix: "/", dir: `${t.root}` }]);
  assert.equal((await get(root, "/docs")).header("location"), "/docs/");
  const docsMount = createStaticHandler([{ prefix: "/d", dir: `${t.root}/docs` }]);
  assert.equal((await get(docsMount, "/d")).header("location"), "/d/");
  assert.equal((await get(docsMount, "/d/")).text(), "<p>docs</p>\n");
});

withTree(
  "conditionals: 304 with validators and no body, 412, IMS ignored with INM",
  async (_t, h) => {
    const first = await get(h, "/static/hello.txt");
    const etag = first.header("etag")!;
    const lm = first.header("last-modified")!;
    for (
      const headers of [
        [["if-none-match", etag]],
        [["if-none-match", `W/${etag}`]],
        [["if-none-match", `"x", ${etag}`]],
        [["if-none-match", "*"]],
        [["if-modified-since", lm]],
      ] as Array<Array<[string, string]>>
    ) {
      const r = await get(h, "/static/hello.txt", { headers });
      assert.equal(r.status, 304, JSON.stringify(headers));
      assert.equal(r.header("etag"), etag);
      assert.equal(r.header("last-modified"), lm);
      assert.equal(r.header("vary"), "Accept-Encoding");
      assert.equal(r.header("content-length"), undefined);
      assert.equal(r.chunks.length, 0);
    }
    const head304 = await get(h, "/static/hello.txt", {
      method: "HEAD",
      headers: [["if-none-match", etag]],
    });
    assert.equal(head304.status, 304);
    const stale = await get(h, "/static/hello.txt", {
      headers: [["if-none-match", '"old"'], ["if-modified-since", lm]],
    });
    assert.equal(stale.status, 200, "If-Modified-Since is ignored when If-None-Match is present");
    assert.equal(
      (await get(h, "/static/hello.txt", {
        headers: [["if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT"]],
      }))
        .status,
      200,
    );
    const failed = await get(h, "/static/hello.txt", { headers: [["if-match", '"nope"']] });
    assert.equal(failed.status, 412);
    assert.equal(
      (await get(h, "/static/hello.txt", { headers: [["if-match", etag]] })).status,
      200,
    );
  },
);

withTree("ranges: 206, suffix, open-ended, 416, multi → 200, If-Range", async (t, h) => {
  const r = await get(h, "/static/hello.txt", { headers: [["range", "bytes=0-4"]] });
  assert.equal(r.status, 206);
  assert.equal(r.text(), "hello");
  assert.equal(r.header("content-range"), "bytes 0-4/12");
  assert.equal(r.header("content-length"), "5");
  assert.equal(r.header("content-type"), "text/plain; charset=utf-8");
  const suffix = await get(h, "/static/hello.txt", { headers: [["range", "bytes=-6"]] });
  assert.equal(suffix.text(), "world\n");
  assert.equal(suffix.header("content-range"), "bytes 6-11/12");
  const open = await get(h, "/static/hello.txt", { headers: [["range", "bytes=6-"]] });
  assert.equal(open.text(), "world\n");
  const clamped = await get(h, "/static/hello.txt", { headers: [["range", "bytes=10-99"]] });
  assert.equal(clamped.header("content-range"), "bytes 10-11/12");
  const unsat = await get(h, "/static/hello.txt", { headers: [["range", "bytes=12-"]] });
  assert.equal(unsat.status, 416);
  assert.equal(unsat.header("content-range"), "bytes */12");
  const multi = await get(h, "/static/hello.txt", { headers: [["range", "bytes=0-1,4-5"]] });
  assert.equal(multi.status, 200);
  assert.equal(multi.text(), "hello world\n");
  const invalid = await get(h, "/static/hello.txt", { headers: [["range", "bytes=5-1"]] });
  assert.equal(invalid.status, 200);
  const twice = await get(h, "/static/hello.txt", {
    headers: [["range", "bytes=0-1"], ["range", "bytes=2-3"]],
  });
  assert.equal(twice.status, 200, "a repeated Range field is ignored");
  const etag = r.header("etag")!;
  const lm = r.header("last-modified")!;
  const ifRange = (v: string) =>
    get(h, "/static/hello.txt", { headers: [["range", "bytes=0-4"], ["if-range", v]] });
  assert.equal((await ifRange(etag)).status, 206);
  assert.equal((await ifRange(lm)).status, 206);
  const stale = await ifRange('"stale"');
  assert.equal(stale.status, 200);
  assert.equal(stale.text(), "hello world\n");
  assert.equal((await ifRange(`W/${etag}`)).status, 200);
  assert.equal((await ifRange("Thu, 01 Jan 1970 00:00:00 GMT")).status, 200);
  // A range across chunk boundaries of a large file.
  const big = await get(h, "/static/big.bin", { headers: [["range", "bytes=65000-200000"]] });
  assert.equal(big.status, 206);
  assert.deepEqual(big.body(), t.big.subarray(65000, 200001));
  assert.equal(
    (await get(h, "/static/empty.txt", { headers: [["range", "bytes=0-"]] })).status,
    416,
  );
});

withTree(
  "precompressed siblings: br preferred, q-values, own ETag, original type",
  async (_t, h) => {
    const ae = (v: string) => get(h, "/static/app.js", { headers: [["accept-encoding", v]] });
    const plain = await get(h, "/static/app.js");
    assert.equal(plain.text(), "console.log('plain');\n");
    assert.equal(plain.header("content-encoding"), undefined);
    assert.equal(plain.header("vary"), "Accept-Encoding");
    const br = await ae("gzip, deflate, br");
    assert.equal(br.text(), "BROTLI-BYTES");
    assert.equal(br.header("content-encoding"), "br");
    assert.equal(br.header("content-type"), "text/javascript; charset=utf-8");
    assert.equal(br.header("content-length"), "12");
    assert.equal(br.header("vary"), "Accept-Encoding");
    const gz = await ae("gzip");
    assert.equal(gz.text(), "GZIP-BYTES");
    assert.equal(gz.header("content-encoding"), "gzip");
    assert.equal((await ae("br;q=0.5, gzip")).header("content-encoding"), "gzip");
    assert.equal((await ae("br;q=0, gzip;q=0")).header("content-encoding"), undefined);
    assert.equal((await ae("identity")).header("content-encoding"), undefined);
    const tags = new Set([plain, br, gz].map((r) => r.header("etag")));
    assert.equal(tags.size, 3, "one ETag per representation");
    const css = await get(h, "/static/style.css", { headers: [["accept-encoding", "br, gzip"]] });
    assert.equal(css.header("content-encoding"), "gzip", "falls back to the sibling that exists");
    assert.equal(css.text(), "GZ-CSS");
    const sneaky = await get(h, "/static/sneaky.txt", { headers: [["accept-encoding", "br"]] });
    assert.equal(sneaky.text(), "sneaky plain\n", "a sibling symlinked outside DIR is ignored");
    // Ranges address the compressed bytes; conditionals use the representation's own ETag.
    const part = await get(h, "/static/app.js", {
      headers: [["accept-encoding", "br"], ["range", "bytes=0-5"]],
    });
    assert.equal(part.status, 206);
    assert.equal(part.text(), "BROTLI");
    assert.equal(part.header("content-range"), "bytes 0-5/12");
    const brTag = br.header("etag")!;
    const not = await get(h, "/static/app.js", {
      headers: [["accept-encoding", "br"], ["if-none-match", brTag]],
    });
    assert.equal(not.status, 304);
    assert.equal(not.header("etag"), brTag);
    const other = await get(h, "/static/app.js", { headers: [["if-none-match", brTag]] });
    assert.equal(other.status, 200, "the br ETag does not validate the identity representation");
  },
);

withTree("streaming: 64 KiB chunks, back-pressure awaited, exact bytes", async (t, h) => {
  const r = await get(h, "/static/big.bin");
  assert.deepEqual(r.body(), t.big);
  assert.equal(r.chunks.length, Math.ceil(t.big.length / 65536));
  assert.ok(r.chunks.every((c) => c.length <= 65536));
  const slow = await get(h, "/static/big.bin", { writes: "backpressure" });
  assert.deepEqual(slow.body(), t.big);
  const small = createStaticHandler([{ prefix: "/s", dir: t.root }], { chunkBytes: 1000 });
  const s = await get(small, "/s/big.bin");
  assert.equal(s.chunks.length, Math.ceil(t.big.length / 1000));
  assert.deepEqual(s.body(), t.big);
});

withTree(
  "client abort: stops reading, throws a peer-gone error, closes the file",
  async (_t, h) => {
    for (
      const [writes, quietAbort] of [["sync", false], ["backpressure", false], [
        "sync",
        true,
      ]] as const
    ) {
      const r = fake({ target: "/static/big.bin", writes, abortAfter: 2, quietAbort });
      let error: unknown;
      try {
        await h.serve(r.ex);
      } catch (err) {
        error = err;
      }
      assert.ok(isPeerGone(error), `${writes}: ${error}`);
      assert.equal(r.chunks.length, 2);
      assert.equal(r.writeCalls, 2, `${writes}: no write after the client went away`);
      assert.equal(r.ended, false);
    }
    // withTree checks that the file was closed.
  },
);

Deno.test("createStaticHandler: clear errors for bad mounts and options", async () => {
  const t = await makeTree();
  try {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => createStaticHandler([{ prefix: "/s", dir: `${t.base}/missing` }]), /missing/],
      [
        () => createStaticHandler([{ prefix: "/s", dir: `${t.root}/hello.txt` }]),
        /not a directory/,
      ],
      [
        () => createStaticHandler([{ prefix: "/s", dir: t.root }, { prefix: "/s/", dir: t.root }]),
        /twice/,
      ],
      [() => createStaticHandler([{ prefix: "s", dir: t.root }]), /must start with/],
      [
        () => createStaticHandler([{ prefix: "/s", dir: t.root }], { maxAgeSeconds: -1 }),
        /max-age/,
      ],
      [
        () => createStaticHandler([{ prefix: "/s", dir: t.root }], { maxAgeSeconds: 1.5 }),
        /max-age/,
      ],
    ];
    for (const [fn, re] of bad) assert.throws(fn, re);
  } finally {
    await t.remove();
  }
});

withTree(
  "freshness: rewrites, symlink swaps and renames take effect on the next request",
  async (t, h) => {
    const first = await get(h, "/static/hello.txt");
    assert.equal(first.text(), "hello world\n");
    // Same path, new contents, size and mtime: a new ETag and Last-Modified, new bytes.
    await Deno.writeTextFile(`${t.root}/hello.txt`, "changed!\n");
    await Deno.utime(`${t.root}/hello.txt`, 1_000_000, 1_000_000);
    const second = await get(h, "/static/hello.txt");
    assert.equal(second.text(), "changed!\n");
    assert.notEqual(second.header("etag"), first.header("etag"));
    assert.equal(second.header("last-modified"), new Date(1_000_000_000).toUTCString());
    const stale = await get(h, "/static/hello.txt", {
      headers: [["if-none-match", first.header("etag")!]],
    });
    assert.equal(stale.status, 200, "the old ETag no longer validates");
    // A symlink swapped to another file inside, then to a file outside the directory.
    assert.equal((await get(h, "/static/link-in.txt")).text(), "changed!\n");
    await Deno.remove(`${t.root}/link-in.txt`);
    await Deno.symlink(`${t.root}/page.html`, `${t.root}/link-in.txt`);
    assert.equal((await get(h, "/static/link-in.txt")).text(), "<h1>hi</h1>\n");
    await Deno.remove(`${t.root}/link-in.txt`);
    await Deno.symlink(`${t.outside}/secret.txt`, `${t.root}/link-in.txt`);
    assert.equal((await get(h, "/static/link-in.txt")).status, 404, "swapped to outside");
    // A renamed file is gone at its old name and served at the new one.
    await Deno.rename(`${t.root}/page.html`, `${t.root}/moved.html`);
    assert.equal((await get(h, "/static/page.html")).status, 404);
    assert.equal((await get(h, "/static/moved.html")).text(), "<h1>hi</h1>\n");
  },
);

withTree("a file up to chunkBytes is sent with one write", async (t, h) => {
  const r = await get(h, "/static/hello.txt");
  assert.equal(r.chunks.length, 1);
  const small = createStaticHandler([{ prefix: "/s", dir: t.root }], { chunkBytes: 5 });
  const s = await get(small, "/s/hello.txt");
  assert.equal(s.chunks.length, 3, "12 bytes in 5-byte reads");
  assert.equal(s.text(), "hello world\n");
});
