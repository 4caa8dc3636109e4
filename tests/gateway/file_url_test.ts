/**
 * `gateway/_file_url.ts`: the loader's path-to-URL helpers return what `node:path` and `node:url`
 * return (the test compares them with Node's own functions), for ordinary and awkward names.
 */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fileUrlPath, moduleFileUrl, resolvePosix } from "../../gateway/_file_url.ts";

const CWD = "/srv/my app/v1";
const PATHS = [
  "apps/hello.ts",
  "./apps/hello.ts",
  "../other/app.ts",
  "../../../../../etc/app.ts",
  "/abs/app.ts",
  "/abs//double///slash.ts",
  "a/./b/../c.ts",
  "dir/",
  ".",
  "with space.ts",
  "hash#name.ts",
  "query?name.ts",
  "percent%20name.ts",
  "percent%2Fslash.ts",
  "back\\slash.ts",
  "tab\tname.ts",
  "new\nline.ts",
  "cr\rname.ts",
  "ünïcødé/名前.ts",
  "emoji-🙂.ts",
  "quote\"'`<>{}|^.ts",
  "semi;colon,comma=eq&amp+plus$dollar@at!bang*star(paren).ts",
  "[brackets].ts",
  "~tilde.ts",
  // every ASCII character but NUL and "/" inside a name
  ...Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1))
    .filter((c) => c !== "/")
    .map((c) => `x${c}y.ts`),
];

Deno.test("moduleFileUrl matches pathToFileURL(resolve(cwd, path))", {
  ignore: Deno.build.os === "windows",
}, async () => {
  for (const p of PATHS) {
    const got = await moduleFileUrl(CWD, p);
    assert.equal(got.href, pathToFileURL(resolve(CWD, p)).href, JSON.stringify(p));
    assert.equal(resolvePosix(CWD, p), resolve(CWD, p), JSON.stringify(p));
  }
});

Deno.test("fileUrlPath inverts moduleFileUrl and matches fileURLToPath", {
  ignore: Deno.build.os === "windows",
}, async () => {
  for (const p of PATHS) {
    const url = await moduleFileUrl(CWD, p);
    const back = await fileUrlPath(url);
    assert.equal(back, resolve(CWD, p), JSON.stringify(p));
    assert.equal(back, fileURLToPath(url), JSON.stringify(p));
  }
  for (const href of ["file:///a/b%20c.ts", "file:///%C3%BC.ts", "file://localhost/x.ts"]) {
    assert.equal(await fileUrlPath(new URL(href)), fileURLToPath(new URL(href)), href);
  }
});

Deno.test("fileUrlPath refuses what fileURLToPath refuses", {
  ignore: Deno.build.os === "windows",
}, async () => {
  for (const href of ["file://host/share/x.ts", "file:///a%2Fb.ts", "file:///a%2fb.ts"]) {
    assert.throws(() => fileURLToPath(new URL(href)), TypeError, `node accepts ${href}`);
    await assert.rejects(() => fileUrlPath(new URL(href)), TypeError, href);
  }
  await assert.rejects(() => fileUrlPath(new URL("https://example.com/a.ts")), TypeError);
});
