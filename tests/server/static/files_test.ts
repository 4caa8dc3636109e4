/**
 * Static files, file-system side: error mapping (403/404), a file that vanishes before it is
 * opened, containment checks, and a file that shrinks or grows while it is being sent.
 */
import assert from "node:assert/strict";
import {
  isInside,
  openFile,
  resolveFile,
  statusForFsError,
  streamRange,
} from "../../../server/static/files.ts";
import { fake } from "./_fake.ts";

Deno.test("statusForFsError: permission denied → 403, missing-ish → 404, others thrown", () => {
  assert.equal(statusForFsError(new Deno.errors.PermissionDenied("x")), 403);
  assert.equal(statusForFsError(new Deno.errors.NotFound("x")), 404);
  assert.equal(statusForFsError(new Deno.errors.NotADirectory("x")), 404);
  assert.equal(statusForFsError(new Deno.errors.FilesystemLoop("x")), 404);
  assert.equal(statusForFsError(Object.assign(new Error("x"), { code: "ENAMETOOLONG" })), 404);
  assert.equal(statusForFsError(new Error("EIO")), null);
});

Deno.test("isInside: the root itself or below it, not a sibling sharing its name", () => {
  assert.ok(isInside("/srv/pub", "/srv/pub"));
  assert.ok(isInside("/srv/pub/a/b", "/srv/pub"));
  assert.ok(!isInside("/srv/pub-evil/a", "/srv/pub"));
  assert.ok(!isInside("/srv", "/srv/pub"));
  assert.ok(isInside("/a", "/"));
});

Deno.test("openFile: a file that vanished → 404; a directory → 404", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f.txt`, "x");
    const found = await resolveFile(dir, ["f.txt"], false);
    assert.equal(found.kind, "file");
    await Deno.remove(`${dir}/f.txt`);
    assert.deepEqual(await openFile((found as { path: string }).path), { status: 404 });
    assert.deepEqual(await openFile(dir), { status: 404 });
    const name = "n".repeat(300);
    assert.deepEqual(await resolveFile(dir, [name], false), { kind: "status", status: 404 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("streamRange: a file that shrank ends short with a warning; one that grew is cut", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/f.bin`;
  try {
    await Deno.writeFile(path, new Uint8Array(100).fill(7));
    const file = await Deno.open(path, { read: true });
    try {
      await Deno.truncate(path, 50);
      const r = fake({ target: "/f.bin" });
      r.ex.res.head(200, [["Content-Length", "100"]]);
      await streamRange(r.ex, file, 0, 100, 16);
      assert.equal(r.body().length, 50);
      assert.ok(r.ended);
      assert.ok(
        r.logs.some((l) => l.startsWith("warning:") && l.includes("shrank")),
        r.logs.join(),
      );
      await Deno.writeFile(path, new Uint8Array(200).fill(9));
      const g = fake({ target: "/f.bin" });
      await streamRange(g.ex, file, 10, 30, 16);
      assert.equal(g.body().length, 30);
      assert.ok(g.body().every((b) => b === 9));
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
