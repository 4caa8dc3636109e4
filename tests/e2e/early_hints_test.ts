/**
 * `103 Early Hints` (RFC 8297) on the backend the suite runs, for both app styles: fetch apps call
 * `info.earlyHints(headers)`, gateway apps `environ["lsbaws.early_hints"](headers)` (LS-12). The
 * hints leave before the final response (the app holds its answer until the test has read them),
 * whether sent before the handler's first await or after it,
 * each call is its own 103, an HTTP/1.0 client gets none (the call returns false), neither does a
 * response already started, and a field only a final response carries is refused.
 */
import assert from "node:assert/strict";
import { header, RawClient, roundTrip } from "../_support/raw_client.ts";
import { startApp } from "../_support/server.ts";

const APPS: Array<[string, string]> = [
  ["fetch", "tests/fixtures/apps/early_hints.ts"],
  ["gateway", "tests/fixtures/apps/early_hints.ts:gateway"],
];

const LINK = "</style.css>; rel=preload; as=style";

for (const [style, spec] of APPS) {
  for (const path of ["/hold", "/hold-later"]) {
    Deno.test(`${style} ${path}: the hints go out before the response, one 103 per call`, async () => {
      const srv = await startApp(spec);
      const c = await RawClient.connect(srv.port);
      try {
        await c.send(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        const two = () => c.text.split("HTTP/1.1 103 Early Hints\r\n").length - 1 === 2;
        assert.ok(
          await c.waitFor(two, 5000),
          `two 103s while the app holds: ${JSON.stringify(c.text)}`,
        );
        assert.ok(!c.text.includes("HTTP/1.1 200"), "no final response yet");
        const release = await roundTrip(
          srv.port,
          "GET /release HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          {
            untilClose: true,
          },
        );
        assert.equal(release.responses[0].status, 200);
        const responses = (await c.waitResponses(1, 5000)).all;
        const statuses = responses.map((r) => r.status);
        assert.deepEqual(statuses, [103, 103, 200]);
        assert.equal(header(responses[0], "link"), LINK);
        assert.equal(header(responses[1], "link"), "</app.js>; rel=preload; as=script");
        assert.equal(header(responses[0], "date"), undefined, "no Date on a 103");
        assert.equal(header(responses[2], "x-hints-sent"), "true");
        assert.equal(responses[2].body, "done");
      } finally {
        // Whatever happened, the held handler is let go, so the server can stop.
        await roundTrip(srv.port, "GET /release HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        await c.close();
        await srv.close();
      }
    });
  }

  Deno.test(`${style}: an HTTP/1.0 client gets no 103, and the call says so`, async () => {
    const srv = await startApp(spec);
    try {
      const { all: responses } = await roundTrip(
        srv.port,
        "GET /once HTTP/1.0\r\nHost: x\r\n\r\n",
        {
          untilClose: true,
        },
      );
      assert.deepEqual(responses.map((r) => r.status), [200]);
      assert.equal(header(responses[0], "x-hints-sent"), "false");
      const v11 = await roundTrip(
        srv.port,
        "GET /once HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        {
          untilClose: true,
        },
      );
      assert.deepEqual(v11.all.map((r) => r.status), [103, 200]);
      assert.equal(header(v11.all[1], "x-hints-sent"), "true");
    } finally {
      await srv.close();
    }
  });

  Deno.test(`${style}: a Content-Length hint is refused and nothing is sent`, async () => {
    const srv = await startApp(spec);
    try {
      const { all: responses } = await roundTrip(
        srv.port,
        "GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        {
          untilClose: true,
        },
      );
      assert.deepEqual(responses.map((r) => r.status), [style === "fetch" ? 400 : 500]);
      if (style === "fetch") assert.equal(responses[0].body, "TypeError");
      else assert.ok(srv.logs.some((l) => /LS-12/.test(l)), srv.logs.join(""));
    } finally {
      await srv.close();
    }
  });
}

Deno.test("gateway: once the response started, no 103 (the call returns false)", async () => {
  const srv = await startApp("tests/fixtures/apps/early_hints.ts:gateway");
  try {
    const { all: responses } = await roundTrip(
      srv.port,
      "GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      {
        untilClose: true,
      },
    );
    assert.deepEqual(responses.map((r) => r.status), [200]);
    assert.equal(responses[0].body, "first late:false");
  } finally {
    await srv.close();
  }
});
