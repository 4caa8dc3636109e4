// gateway/loader.ts: spec parsing and module loading with helpful AppLoadErrors.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AppLoadError, type AppLoadErrorKind } from "../../gateway/errors.ts";
import { loadApp, parseAppSpec } from "../../gateway/loader.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, "fixtures");
const opts = { cwd: HERE };

async function loadError(spec: string, cwd = HERE): Promise<AppLoadError> {
  try {
    await loadApp(spec, { cwd });
  } catch (err) {
    if (err instanceof AppLoadError) return err;
    throw err;
  }
  throw new Error(`expected ${spec} to fail`);
}

function specKind(spec: string): AppLoadErrorKind | "ok" {
  try {
    parseAppSpec(spec);
    return "ok";
  } catch (err) {
    if (err instanceof AppLoadError) return err.kind;
    throw err;
  }
}

Deno.test("parseAppSpec splits module and export path", () => {
  assert.deepEqual(parseAppSpec("apps/hello.ts:app"), {
    module: "apps/hello.ts",
    exportPath: ["app"],
  });
  assert.deepEqual(parseAppSpec("apps/hello.ts"), {
    module: "apps/hello.ts",
    exportPath: ["default"],
  });
  assert.deepEqual(parseAppSpec("app.ts:api.v1").exportPath, ["api", "v1"]);
  assert.deepEqual(parseAppSpec("/abs/app.ts:$app_1").exportPath, ["$app_1"]);
});

Deno.test("parseAppSpec does not mistake a file: URL's colon for the export separator", () => {
  assert.deepEqual(parseAppSpec("file:///srv/app.ts:app"), {
    module: "file:///srv/app.ts",
    exportPath: ["app"],
  });
  assert.deepEqual(parseAppSpec("file:///srv/app.ts"), {
    module: "file:///srv/app.ts",
    exportPath: ["default"],
  });
  assert.deepEqual(parseAppSpec("file:app.ts").module, "file:app.ts");
  assert.deepEqual(parseAppSpec("dir:x/app.ts"), {
    module: "dir:x/app.ts",
    exportPath: ["default"],
  });
});

Deno.test("parseAppSpec rejects malformed specs with kind 'spec'", () => {
  for (
    const spec of [
      "",
      "  ",
      "app.ts:",
      ":app",
      ":app()",
      "app.ts:1x",
      "app.ts:create(",
      "a.ts:x..y",
    ]
  ) {
    assert.equal(specKind(spec), "spec", JSON.stringify(spec));
  }
});

Deno.test("loadApp loads the default export when no export is named", async () => {
  const loaded = await loadApp("fixtures/app_module.ts", opts);
  assert.equal(typeof loaded.value, "function");
  assert.equal((loaded.value as () => unknown).name, "defaultApp");
  assert.equal(loaded.exportName, "default");
  assert.equal(loaded.url, pathToFileURL(join(FIXTURES, "app_module.ts")).href);
});

Deno.test("loadApp loads a named export and a dotted path", async () => {
  const named = await loadApp("fixtures/app_module.ts:app", opts);
  assert.equal((named.value as () => unknown).name, "app");
  const dotted = await loadApp("fixtures/app_module.ts:api.v1", opts);
  assert.equal((dotted.value as () => unknown).name, "v1");
  assert.equal(dotted.exportName, "api.v1");
});

Deno.test("loadApp accepts absolute paths, file: URLs and paths with spaces", async () => {
  const abs = await loadApp(`${join(FIXTURES, "app_module.ts")}:app`, { cwd: "/" });
  assert.equal((abs.value as () => unknown).name, "app");
  const url = pathToFileURL(join(FIXTURES, "app_module.ts")).href;
  const viaUrl = await loadApp(`${url}:app`, { cwd: "/" });
  assert.equal(viaUrl.value, abs.value);
  const spaced = await loadApp("fixtures/with space/app.ts", opts);
  assert.equal((spaced.value as () => unknown).name, "spaced");
  assert.ok(spaced.url.includes("with%20space"));
});

Deno.test("loadApp accepts objects with an own or inherited fetch method", async () => {
  for (const name of ["fetchObject", "fetchInstance"]) {
    const loaded = await loadApp(`fixtures/app_module.ts:${name}`, opts);
    assert.equal(typeof (loaded.value as { fetch: unknown }).fetch, "function");
  }
});

Deno.test("loadApp reports a missing file with kind 'not_found' naming the path", async () => {
  const err = await loadError("fixtures/nope.ts:app");
  assert.equal(err.kind, "not_found");
  assert.ok(err.message.includes(join(FIXTURES, "nope.ts")));
  assert.equal((await loadError("fixtures:app")).kind, "not_found", "a directory is not a module");
});

Deno.test("loadApp reports a missing export with kind 'export' and lists what exists", async () => {
  const err = await loadError("fixtures/app_module.ts:missing");
  assert.equal(err.kind, "export");
  assert.deepEqual(err.available, [
    "api",
    "app",
    "count",
    "default",
    "fetchInstance",
    "fetchObject",
  ]);
  assert.ok(err.message.includes("missing") && err.message.includes("app_module.ts"));
  assert.ok(err.message.includes("api, app, count, default"));
  const step = await loadError("fixtures/app_module.ts:api.v2");
  assert.equal(step.kind, "export");
  assert.deepEqual(step.available, ["notFn", "v1"]);
});

Deno.test("loadApp hints at the one callable export when the default is missing", async () => {
  const err = await loadError("fixtures/only_named.ts");
  assert.equal(err.kind, "export");
  assert.ok(err.message.includes("no default export"));
  assert.ok(err.message.includes("did you mean 'fixtures/only_named.ts:app'"), err.message);
  const two = await loadError("fixtures/two_functions.ts");
  assert.ok(!two.message.includes("did you mean"));
});

Deno.test("loadApp rejects an export that is not callable with kind 'not_callable'", async () => {
  const err = await loadError("fixtures/app_module.ts:count");
  assert.equal(err.kind, "not_callable");
  assert.equal(err.exportName, "count");
  assert.ok(err.message.includes("count") && err.message.includes("a number"));
  assert.equal((await loadError("fixtures/app_module.ts:api.notFn")).kind, "not_callable");
});

Deno.test("loadApp reports a module that fails to import with kind 'import'", async () => {
  const err = await loadError("fixtures/throws_on_import.ts");
  assert.equal(err.kind, "import");
  assert.ok(err.message.includes("fixture import failure"));
  assert.ok(err.cause instanceof Error);
});

Deno.test("parseAppSpec reads an app factory call and its JSON arguments (gunicorn's syntax)", () => {
  assert.deepEqual(parseAppSpec("app.ts:createApp()"), {
    module: "app.ts",
    exportPath: ["createApp"],
    call: [],
  });
  assert.deepEqual(parseAppSpec('app.ts:api.make("a:b/c", {"x": [1, 2]}, true, null)'), {
    module: "app.ts",
    exportPath: ["api", "make"],
    call: ["a:b/c", { x: [1, 2] }, true, null],
  });
  assert.deepEqual(parseAppSpec("file:///srv/app.ts:create(3)"), {
    module: "file:///srv/app.ts",
    exportPath: ["create"],
    call: [3],
  });
  assert.equal(parseAppSpec("app.ts:app").call, undefined, "no call without parentheses");
  const single = (() => {
    try {
      parseAppSpec("app.ts:create('prod')");
    } catch (err) {
      return err;
    }
  })();
  assert.ok(single instanceof AppLoadError && single.kind === "spec");
  assert.match(single.message, /arguments "'prod'" are not JSON values \(strings in double quotes/);
  assert.equal(specKind("app.ts:create("), "spec");
  assert.equal(specKind("app.ts:1create()"), "spec");
});

Deno.test("loadApp calls an app factory (sync, async, as a method) and serves what it returns", async () => {
  const mod = await import("./fixtures/factories.ts");
  const before = mod.calls.sync;
  const sync = await loadApp('fixtures/factories.ts:createApp("shop", 2)', opts);
  assert.equal(mod.calls.sync, before + 1);
  assert.equal(sync.exportName, 'createApp("shop", 2)');
  const started: string[] = [];
  const body = (sync.value as (e: unknown, s: (st: string) => void) => Uint8Array[])(
    {},
    (st) => void started.push(st),
  );
  assert.deepEqual(started, ["200 OK"]);
  assert.equal(new TextDecoder().decode(body[0]), "shop:2");
  const defaults = await loadApp("fixtures/factories.ts:createApp()", opts);
  assert.equal(
    new TextDecoder().decode(
      (defaults.value as (e: unknown, s: () => void) => Uint8Array[])({}, () => {})[0],
    ),
    "default:1",
  );
  const asyncApp = await loadApp('fixtures/factories.ts:createFetchApp({"greeting": "hej"})', opts);
  const res = await (asyncApp.value as { fetch: () => Response }).fetch();
  assert.equal(await res.text(), "hej");
  const method = await loadApp("fixtures/factories.ts:api.make()", opts);
  assert.equal(await (method.value as { fetch: () => Response }).fetch().text(), "/v1");
});

Deno.test("loadApp with factory: true (--factory) calls the export without parentheses in the spec", async () => {
  const mod = await import("./fixtures/factories.ts");
  const before = mod.calls.sync;
  const loaded = await loadApp("fixtures/factories.ts:createApp", { ...opts, factory: true });
  assert.equal(mod.calls.sync, before + 1);
  assert.equal(loaded.exportName, "createApp()");
  const plain = await loadApp("fixtures/factories.ts:createApp", opts);
  assert.equal(mod.calls.sync, before + 1, "without it the export itself is the app");
  assert.equal(plain.value, mod.createApp);
});

Deno.test("loadApp reports a factory that fails, returns no app, or is no function", async () => {
  const failed = await loadError("fixtures/factories.ts:broken()");
  assert.equal(failed.kind, "factory");
  assert.match(
    failed.message,
    /^app factory broken\(\) in .*factories\.ts failed: database unreachable$/,
  );
  assert.ok(failed.cause instanceof Error && failed.cause.message === "database unreachable");
  const notApp = await loadError("fixtures/factories.ts:notAnApp()");
  assert.equal(notApp.kind, "not_callable");
  assert.match(notApp.message, /notAnApp\(\) in .* returned a number, not a function or an object/);
  const notFn = await loadError("fixtures/factories.ts:value()");
  assert.equal(notFn.kind, "not_callable");
  assert.match(notFn.message, /export 'value' of .* is a string, not an app factory/);
  const missing = await loadError("fixtures/factories.ts:nothing()");
  assert.equal(missing.kind, "export");
});
