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
  for (const spec of ["", "  ", "app.ts:", ":app", "app.ts:1x", "app.ts:create()", "a.ts:x..y"]) {
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
