// `--validate` end to end: lsbaws wraps a gateway app in the contract validator; each broken rule
// gives a 500 and a log line naming the rule, a conforming request is untouched.
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";

const SPEC = "tests/e2e/fixtures/bad_gateway.ts:app";

async function get(port: number, path: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

Deno.test("--validate: each broken rule is a 500 and a log line naming it", async () => {
  const s = await startApp(SPEC, { validate: true });
  try {
    assert.deepEqual(await get(s.port, "/ok"), { status: 200, text: "fine" });
    for (
      const [path, rule] of [
        ["/status", "SR-2"],
        ["/chunk", "BODY-2"],
        ["/twice", "SR-9"],
        ["/close-input", "IN-7"],
      ]
    ) {
      s.logs.length = 0;
      const r = await get(s.port, path);
      assert.equal(r.status, 500, path);
      assert.ok(!r.text.includes(rule), "the rule is not leaked to the client");
      assert.ok(
        s.logs.some((l) => l.includes("[ERROR]") && l.includes(`broken gateway rule ${rule}`)),
        `${path}: ${s.logs.join("\n")}`,
      );
    }
  } finally {
    await s.close();
  }
});

Deno.test("--validate: wsgiref-style warnings and lsbaws.errors go to the error log", async () => {
  const s = await startApp(SPEC, { validate: true });
  try {
    assert.equal((await get(s.port, "/no-type")).status, 200);
    assert.ok(s.logs.some((l) => l.includes("no Content-Type on a 200")), s.logs.join("\n"));
    assert.equal((await get(s.port, "/errors")).status, 200);
    assert.ok(s.logs.some((l) => l.includes("written to lsbaws.errors")), s.logs.join("\n"));
  } finally {
    await s.close();
  }
});

Deno.test("without --validate the same app is only caught by the server's own checks", async () => {
  const s = await startApp(SPEC);
  try {
    // startResponse itself checks SR-2 (SR-7), so this is still a 500...
    assert.equal((await get(s.port, "/status")).status, 500);
    // ...but closing the input (IN-7) is only noticed by the validator.
    assert.equal((await get(s.port, "/close-input")).status, 500);
    assert.ok(s.logs.some((l) => l.includes("close is not a function")), s.logs.join("\n"));
  } finally {
    await s.close();
  }
});

Deno.test("--validate on a fetch app logs that it is ignored", async () => {
  const s = await startApp("tests/e2e/fixtures/fetch_e2e.ts", { validate: true });
  try {
    assert.equal((await get(s.port, "/hello")).status, 200);
  } finally {
    await s.close();
  }
  assert.ok(s.logs.some((l) => l.includes("--validate checks gateway apps only")), s.logs.join());
});
