/**
 * Static files, URL side: `parseStaticMount(s)`, `targetPath`, `mountRest`, `decodeStaticPath` and
 * the MIME table.
 */
import assert from "node:assert/strict";
import {
  decodeStaticPath,
  mountRest,
  parseStaticMount,
  parseStaticMounts,
  targetPath,
} from "../../../server/static/path.ts";
import { contentTypeOf, DEFAULT_CONTENT_TYPE } from "../../../server/static/mime.ts";

Deno.test("parseStaticMount: accepts and normalises URL_PREFIX=DIR", () => {
  assert.deepEqual(parseStaticMount("/static=./public"), { prefix: "/static", dir: "./public" });
  assert.deepEqual(parseStaticMount("/static/=pub"), { prefix: "/static", dir: "pub" });
  assert.deepEqual(parseStaticMount("/=pub"), { prefix: "", dir: "pub" });
  assert.deepEqual(parseStaticMount("/a/b-c_d.e~=/srv/x=y"), {
    prefix: "/a/b-c_d.e~",
    dir: "/srv/x=y",
  });
});

Deno.test("parseStaticMount: rejects bad values with a message naming the value", () => {
  const bad = [
    "static",
    "static=pub",
    "/static=",
    "=pub",
    "/st%61tic=pub",
    "/a?b=pub",
    "/a#b=pub",
    "/a\\b=pub",
    "//a=pub",
    "/a//b=pub",
    "/a/../b=pub",
    "/./a=pub",
    "/a b=pub",
    "/ü=pub",
  ];
  for (const spec of bad) {
    assert.throws(() => parseStaticMount(spec), (err: Error) => {
      assert.ok(err.message.includes(spec), `${spec}: ${err.message}`);
      return true;
    });
  }
});

Deno.test("parseStaticMounts: every value parsed; a prefix given twice (any spelling) refused", () => {
  assert.deepEqual(parseStaticMounts([]), []);
  assert.deepEqual(parseStaticMounts(["/a=x", "/b/=y", "/=z"]), [
    { prefix: "/a", dir: "x" },
    { prefix: "/b", dir: "y" },
    { prefix: "", dir: "z" },
  ]);
  assert.throws(() => parseStaticMounts(["/a=x", "/a/=y"]), /URL prefix '\/a' used twice/);
  assert.throws(() => parseStaticMounts(["/=x", "/=y"]), /URL prefix '\/' used twice/);
  assert.throws(() => parseStaticMounts(["/a=x", "nope"]), /invalid --static 'nope'/);
});

Deno.test("targetPath: origin and absolute forms; other forms are not paths", () => {
  assert.deepEqual(targetPath("/a/b?x=1", "origin"), { path: "/a/b", query: "?x=1" });
  assert.deepEqual(targetPath("/a", "origin"), { path: "/a", query: "" });
  assert.deepEqual(targetPath("http://h:1/a/b?q", "absolute"), { path: "/a/b", query: "?q" });
  assert.deepEqual(targetPath("http://h", "absolute"), { path: "", query: "" });
  assert.deepEqual(targetPath("http://h?q", "absolute"), { path: "", query: "?q" });
  assert.equal(targetPath("*", "asterisk"), null);
  assert.equal(targetPath("h:443", "authority"), null);
});

Deno.test("mountRest: segment-boundary prefix match", () => {
  assert.equal(mountRest("/static", "/static"), "");
  assert.equal(mountRest("/static/", "/static"), "/");
  assert.equal(mountRest("/static/a/b", "/static"), "/a/b");
  assert.equal(mountRest("/staticx", "/static"), null);
  assert.equal(mountRest("/stat", "/static"), null);
  assert.equal(mountRest("/x", ""), "/x");
  assert.equal(mountRest("", ""), "/");
});

function ok(rest: string): { segments: readonly string[]; slash: boolean } {
  const d = decodeStaticPath(rest);
  assert.equal(d.kind, "ok", `${rest}: ${JSON.stringify(d)}`);
  const { segments, slash } = d as { segments: readonly string[]; slash: boolean };
  return { segments, slash };
}

function rejected(rest: string): number {
  const d = decodeStaticPath(rest);
  assert.equal(d.kind, "reject", `${rest} should be rejected`);
  return (d as { status: number }).status;
}

Deno.test("decodeStaticPath: plain, encoded and directory paths", () => {
  assert.deepEqual(ok(""), { segments: [], slash: false });
  assert.deepEqual(ok("/"), { segments: [], slash: true });
  assert.deepEqual(ok("/a/b.txt"), { segments: ["a", "b.txt"], slash: false });
  assert.deepEqual(ok("/docs/"), { segments: ["docs"], slash: true });
  assert.deepEqual(ok("/a%20b.txt"), { segments: ["a b.txt"], slash: false });
  assert.deepEqual(ok("/%C3%BCn%C3%AF.txt"), { segments: ["ünï.txt"], slash: false });
  assert.deepEqual(ok("/a+b"), { segments: ["a+b"], slash: false });
  assert.deepEqual(ok("/x..y"), { segments: ["x..y"], slash: false }, "dots inside are fine");
  assert.deepEqual(ok("/a.%2e"), { segments: ["a.."], slash: false });
});

Deno.test("decodeStaticPath: traversal in every spelling → 404", () => {
  for (
    const rest of [
      "/..",
      "/../etc/passwd",
      "/a/../../b",
      "/.",
      "/./a",
      "/%2e%2e/x",
      "/%2E%2E/x",
      "/.%2e/x",
      "/%2e./x",
      "/%2e",
      "/a/%2e%2e",
      "/..%2fetc",
      "/a%2fb",
      "/a%2Fb",
      "/a%5cb",
      "/a%5C..%5Cb",
      "/a\\b",
      "/..\\x",
      "//etc/passwd",
      "/a//b",
      "/.env",
      "/.git/config",
      "/sub/.hidden/x",
      "/%2eenv",
    ]
  ) {
    assert.equal(rejected(rest), 404, rest);
  }
});

Deno.test("decodeStaticPath: malformed or non-UTF-8 escapes, NUL and controls → 400", () => {
  for (
    const rest of [
      "/a%",
      "/a%2",
      "/a%zz",
      "/a%%32%65",
      "/a%00",
      "/a%00.txt",
      "/a%0a",
      "/a%7f",
      "/a%ff",
      "/a%c3",
      "/%c0%ae%c0%ae/x", // overlong "."
      "/%c0%af", // overlong "/"
      "/%e0%80%ae", // 3-byte overlong "."
      "/%ed%a0%80", // UTF-16 surrogate
      "/a\x00b",
      "/a\x7fb",
      "/a\xe9b", // raw latin-1 byte
    ]
  ) {
    assert.equal(rejected(rest), 400, JSON.stringify(rest));
  }
});

Deno.test("contentTypeOf: explicit table, charset for text, octet-stream otherwise", () => {
  const cases: Array<[string, string]> = [
    ["a.html", "text/html; charset=utf-8"],
    ["a.css", "text/css; charset=utf-8"],
    ["a.js", "text/javascript; charset=utf-8"],
    ["a.mjs", "text/javascript; charset=utf-8"],
    ["a.json", "application/json; charset=utf-8"],
    ["a.js.map", "application/json; charset=utf-8"],
    ["a.txt", "text/plain; charset=utf-8"],
    ["a.csv", "text/csv; charset=utf-8"],
    ["a.xml", "application/xml; charset=utf-8"],
    ["a.SVG", "image/svg+xml; charset=utf-8"],
    ["a.png", "image/png"],
    ["a.jpg", "image/jpeg"],
    ["a.jpeg", "image/jpeg"],
    ["a.gif", "image/gif"],
    ["a.webp", "image/webp"],
    ["a.avif", "image/avif"],
    ["a.ico", "image/x-icon"],
    ["a.woff", "font/woff"],
    ["a.woff2", "font/woff2"],
    ["a.ttf", "font/ttf"],
    ["a.otf", "font/otf"],
    ["a.wasm", "application/wasm"],
    ["a.pdf", "application/pdf"],
    ["a.mp4", "video/mp4"],
    ["a.webm", "video/webm"],
    ["a.mp3", "audio/mpeg"],
    ["a.ogg", "audio/ogg"],
    ["a.wav", "audio/wav"],
    ["a.zip", "application/zip"],
    ["a.tar.gz", "application/gzip"],
    ["/x/y/index.html", "text/html; charset=utf-8"],
    ["noext", DEFAULT_CONTENT_TYPE],
    ["a.unknownext", DEFAULT_CONTENT_TYPE],
    ["/dir.html/file", DEFAULT_CONTENT_TYPE],
    ["Makefile.", DEFAULT_CONTENT_TYPE],
  ];
  for (const [name, type] of cases) assert.equal(contentTypeOf(name), type, name);
});
