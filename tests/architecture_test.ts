/**
 * Architecture rules (DESIGN.md §Layout), enforced by reading import lines:
 * 1. server/http/** never mentions `Deno.`, never awaits, and imports only siblings (plus
 *    `import type` from server/config.ts).
 * 2. gateway/** imports from server/ only `server/http/*` (pure) and `import type` from the rest
 *    of server/ (never from its I/O modules: connection, serve, process/*); only the loader
 *    imports modules dynamically. One exception: the upgrade shim gateway/websocket.ts creates
 *    and starts the engine's WebSocket (server/websocket.ts). gateway/ has no import cycles, and
 *    only gateway/_deno_internals.ts reads Deno's private internals or replaces a Deno global.
 * 3. apps/** import only from gateway/mod.ts (or npm: packages for framework examples).
 * 4. Nothing imports main.ts; only tests, bench and the loader reach apps/.
 * 5. Only server/deno_driver.ts reads or writes a socket (`.read(`/`.write(` on a Deno.Conn),
 *    plus server/websocket_io.ts on the socket it was handed by `Exchange.takeover`.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

async function* walk(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) yield* walk(u);
    else if (e.name.endsWith(".ts")) yield u;
  }
}

interface Imp {
  spec: string;
  typeOnly: boolean;
}

function importsOf(src: string): Imp[] {
  const out: Imp[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+["']([^"']+)["']/gm;
  for (const m of src.matchAll(re)) out.push({ spec: m[3], typeOnly: !!m[2] });
  const side = /^\s*import\s+["']([^"']+)["']/gm;
  for (const m of src.matchAll(side)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

async function files(sub: string): Promise<Array<{ url: URL; rel: string; src: string }>> {
  const out = [];
  for await (const u of walk(new URL(sub, root))) {
    out.push({
      url: u,
      rel: u.pathname.slice(root.pathname.length),
      src: await Deno.readTextFile(u),
    });
  }
  return out;
}

function target(from: URL, spec: string): string {
  if (!spec.startsWith(".")) return spec;
  return new URL(spec, from).pathname.slice(root.pathname.length);
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

Deno.test("server/http is sans-IO: no Deno.*, no await, imports only siblings and config types", async () => {
  for (const f of await files("server/http/")) {
    const code = stripComments(f.src);
    assert.ok(!/\bDeno\./.test(code), `${f.rel} mentions Deno.`);
    assert.ok(!/\bawait\b/.test(code), `${f.rel} uses await`);
    for (const imp of importsOf(f.src)) {
      const t = target(f.url, imp.spec);
      const ok = t.startsWith("server/http/") || (t === "server/config.ts" && imp.typeOnly);
      assert.ok(ok, `${f.rel} imports ${t}`);
    }
  }
});

Deno.test("gateway imports only pure server/http modules and server types", async () => {
  for (const f of await files("gateway/")) {
    for (const imp of importsOf(f.src)) {
      const t = target(f.url, imp.spec);
      if (!t.startsWith("server/")) continue;
      const shim = f.rel === "gateway/websocket.ts" && t === "server/websocket.ts";
      assert.ok(
        t.startsWith("server/http/") || imp.typeOnly || shim,
        `${f.rel} imports ${t} at runtime`,
      );
    }
    if (!f.rel.endsWith("loader.ts")) {
      assert.ok(!/\bimport\(/.test(stripComments(f.src)), `${f.rel} imports dynamically`);
    }
  }
});

Deno.test("gateway never imports server I/O modules, not even their types", async () => {
  const io = new Set([
    "server/connection.ts",
    "server/serve.ts",
    "server/unix_listener.ts",
    "server/websocket_io.ts",
  ]);
  for (const f of await files("gateway/")) {
    for (const imp of importsOf(f.src)) {
      const t = target(f.url, imp.spec);
      assert.ok(!io.has(t) && !t.startsWith("server/process/"), `${f.rel} imports ${t}`);
    }
  }
});

Deno.test("gateway has no import cycles", async () => {
  const graph = new Map<string, string[]>();
  for (const f of await files("gateway/")) {
    graph.set(
      f.rel,
      importsOf(f.src).map((imp) => target(f.url, imp.spec)).filter((t) =>
        t.startsWith("gateway/")
      ),
    );
  }
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    const at = path.indexOf(node);
    assert.ok(at < 0, `import cycle: ${[...path.slice(at), node].join(" -> ")}`);
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
});

Deno.test("only gateway/_deno_internals.ts reads Deno's internals or replaces a Deno global", async () => {
  const internals =
    /getOwnPropertySymbols|Deno\.internal|Symbol\.for\("Deno|defineProperty\(\s*Deno\b/;
  for (const dir of ["server/", "gateway/"]) {
    for (const f of await files(dir)) {
      if (f.rel === "gateway/_deno_internals.ts") continue;
      assert.ok(!internals.test(stripComments(f.src)), `${f.rel} reads Deno internals`);
    }
  }
});

Deno.test("apps import only gateway/mod.ts (or npm packages)", async () => {
  for (const f of await files("apps/")) {
    for (const imp of importsOf(f.src)) {
      const t = target(f.url, imp.spec);
      const ok = t === "gateway/mod.ts" || t.startsWith("npm:") || t.startsWith("node:") ||
        t.startsWith("apps/");
      assert.ok(ok, `${f.rel} imports ${t}`);
    }
  }
});

Deno.test("nothing imports main.ts and only tests, bench and the loader reach apps/", async () => {
  for (const dir of ["server/", "gateway/", "apps/"]) {
    for (const f of await files(dir)) {
      for (const imp of importsOf(f.src)) {
        const t = target(f.url, imp.spec);
        assert.notEqual(t, "main.ts", `${f.rel} imports main.ts`);
        if (!dir.startsWith("apps")) assert.ok(!t.startsWith("apps/"), `${f.rel} imports ${t}`);
      }
    }
  }
});

Deno.test("only server/deno_driver.ts touches client sockets", async () => {
  for (const dir of ["server/", "gateway/"]) {
    for (const f of await files(dir)) {
      if (f.rel === "server/deno_driver.ts" || f.rel === "server/websocket_io.ts") continue;
      const code = stripComments(f.src);
      assert.ok(!/\bconn\.(read|write)\(/.test(code), `${f.rel} reads or writes a connection`);
    }
  }
});
