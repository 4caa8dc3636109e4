/**
 * Architecture rules, checked on what the code imports and calls (TypeScript AST and type
 * checker, see ./_project.ts), not on names or import-line text:
 * 1. server/http/** is sans-IO: no `Deno`, no `await` / `for await` / `async`, no timers, no
 *    `Promise`; it imports only server/http/** (plus `import type` from `HTTP_TYPE_IMPORTS`).
 * 2. server/** never imports gateway/**; apps/** import only `APP_ENTRY` (or npm:/node:
 *    packages, or each other); nothing but tests imports main.ts; only tests, bench and the
 *    loader reach apps/.
 * 3. gateway/** imports at runtime from server/ only server/http/** (plus the WebSocket
 *    exception below) and only types from the rest of server/; only the loader imports
 *    dynamically (besides the literal modules `LAZY_IMPORTS` lists, loaded lazily for memory,
 *    which main.ts then must not reach through its runtime imports).
 * 4. Only the socket driver(s) bind, connect, accept, read or write sockets: any use of
 *    `Deno.listen`/`connect`/`serve`/… or of FFI (`Deno.dlopen`, the libc driver's system calls)
 *    and any access on a value whose type is a Deno socket type (whatever the variable is
 *    called) outside the allowlists below is a violation. (The StatsD client's and the systemd
 *    notifier's own outbound sockets are allowed in their modules.)
 * 5. Only `INTERNALS_FILES` read Deno's private state (`Symbol.for`, `Deno.internal`,
 *    own-symbol reads on Request/Headers/Response) or replace `Deno.upgradeWebSocket`.
 * 6. No .ts file in server/ or gateway/ is longer than `SIZE_BUDGET` lines.
 * 7. No import cycles (value or type) among server/, gateway/ and main.ts.
 * Each rule has a fixture test proving it can fail. Allowlists with "PENDING" in their name
 * record today's known debt; an entry that is no longer needed (or names a missing file) fails
 * the "allowlists are current" test, so they only shrink.
 */
import assert from "node:assert/strict";
import {
  cyclesOf,
  exists,
  type Graph,
  type Import,
  importsOf,
  internalsViolations,
  lineCount,
  loadProject,
  parseFile,
  type Project,
  report,
  repository,
  sansIoViolations,
  socketViolations,
  tsFiles,
  type Violation,
} from "./_project.ts";

// ---------------------------------------------------------------------------------------------
// Allowlists (repository-relative paths; adjust here when files move)

/**
 * The socket drivers: the deno driver accepts, reads and writes `Deno.Conn`s and
 * `Deno.Listener`s; the libc driver makes the same system calls through FFI (`Deno.dlopen`).
 */
const DRIVER_FILES = [
  "server/deno/connection.ts",
  "server/deno/listen.ts",
  "server/deno/unix_listener.ts",
  "server/libc/connection.ts",
  "server/libc/ffi.ts",
  "server/libc/listen.ts",
  "server/libc/loop.ts",
  "server/libc/socket.ts",
];
/** Reads and writes the socket a protocol switch (`Exchange.takeover`) handed it. */
const WEBSOCKET_IO_FILES = ["server/websocket_io.ts"];
/**
 * Send datagrams on sockets of their own, never a client's: the StatsD client (UDP) and the
 * systemd notifier (a unix datagram socket through the C library).
 */
const OUTBOUND_FILES = [
  "server/statsd.ts",
  "server/syslog.ts",
  "server/unix_datagram.ts",
  "server/process/notify.ts",
];
/**
 * Calls the C library through FFI for something other than sockets: `--initgroups` switches a
 * worker's identity with glibc's `initgroups`/`setgid`/`setuid`.
 */
const PRIVILEGE_FILES = ["server/process/privileges.ts"];
/**
 * The supervisor's control socket (`--control-socket`), a unix socket of its own that never
 * carries a client's HTTP, and `lsbaws ctl`, its client.
 */
const CONTROL_FILES = ["server/process/control_socket.ts", "server/process/control_client.ts"];
/** Socket use on its way into a driver (empty: every listener and connection lives in one). */
const PENDING_MOVE: string[] = [];
/** The one module that reads Deno's internals (private slots, the `Deno.upgradeWebSocket` swap). */
const INTERNALS_FILES = ["gateway/_deno_internals.ts"];
/** Types the sans-IO core may import (`import type` only) from outside server/http/. */
const HTTP_TYPE_IMPORTS = ["server/config.ts"];
/** The one module apps import from lsbaws. */
const APP_ENTRY = "gateway/mod.ts";
/** The only files that import dynamically (and so may reach apps/). */
const LOADER_FILES = ["gateway/loader.ts"];
/**
 * Literal modules a file may import lazily to keep them out of a server's memory (Deno's Node
 * compatibility modules cost ~0.8 MB of V8 heap once loaded; the supervisor, the worker link, the
 * static responder and the deno driver ~0.7 MiB of anonymous memory in a server that does not use
 * them): file → the specifiers it may `import()`. Never an app, never a computed specifier.
 */
const LAZY_IMPORTS: Record<string, readonly string[]> = {
  "gateway/_file_url.ts": ["node:path", "node:url"],
  "gateway/websocket.ts": ["server/websocket_deflate.ts"],
  "main.ts": [
    "server/deno/listen.ts",
    "server/glob.ts",
    "server/process/control_client.ts",
    "server/process/control_socket.ts",
    "server/process/handover.ts",
    "server/process/heartbeat.ts",
    "server/process/identity.ts",
    "server/process/notify.ts",
    "server/process/pidfile.ts",
    "server/process/privileges.ts",
    "server/process/reload.ts",
    "server/process/spawn.ts",
    "server/process/supervisor.ts",
    "server/process/title.ts",
    "server/process/worker.ts",
    "server/static/mod.ts",
    "server/statsd.ts",
    "server/syslog.ts",
  ],
  "server/serve.ts": ["server/deno/listen.ts", "server/static/mod.ts"],
  "server/tls_files.ts": ["node:crypto"],
};
/**
 * The upgrade shim creates and starts the engine's WebSocket: these gateway files may import
 * server modules matching `to` (`*` = any characters but `/`) at runtime.
 */
const GATEWAY_WEBSOCKET_EXCEPTION = { from: ["gateway/websocket.ts"], to: "server/websocket*.ts" };
/** Line budget per file in server/ and gateway/. */
const SIZE_BUDGET = 500;
/** Files over the budget today, being split. */
const SIZE_EXEMPT_PENDING: string[] = [];
/** Import cycles known today, being broken (each as its set of files, any order). */
const CYCLES_PENDING: string[][] = [];

// ---------------------------------------------------------------------------------------------

const PROGRAM_FILES = [...tsFiles("server/"), ...tsFiles("gateway/"), ...tsFiles("main.ts")];

function under(rel: string, dir: string): boolean {
  return dir.endsWith("/") ? rel.startsWith(dir) : rel === dir;
}

function matches(rel: string, pattern: string): boolean {
  const re = pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*");
  return new RegExp(`^${re}$`).test(rel);
}

/** An import and the file it is written in. */
interface Edge {
  file: string;
  imp: Import;
}

/** Imports of every file under the given folders, parsed without a program. */
function importsUnder(...dirs: string[]): Edge[] {
  const out = [];
  for (const dir of dirs) {
    for (const file of tsFiles(dir)) {
      for (const imp of importsOf(parseFile(file), file)) out.push({ file, imp });
    }
  }
  return out;
}

function fail(rule: string, vs: readonly Violation[]): void {
  assert.equal(vs.length, 0, `${rule}:\n${report(vs)}`);
}

function importViolation(file: string, imp: Import, what: string): Violation {
  return { file, line: imp.line, what: `${what}: ${imp.kind} import of ${imp.target}` };
}

function graphOf(files: readonly string[], project?: Project): Graph {
  const set = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const sf = project ? project.source(f) : parseFile(f);
    graph.set(f, [...new Set(importsOf(sf, f).map((i) => i.target).filter((t) => set.has(t)))]);
  }
  return graph;
}

function socketOffenders(p: Project, files: readonly string[]): Violation[] {
  const allowed = [
    ...DRIVER_FILES,
    ...WEBSOCKET_IO_FILES,
    ...OUTBOUND_FILES,
    ...PRIVILEGE_FILES,
    ...CONTROL_FILES,
    ...PENDING_MOVE,
  ];
  return socketViolations(p, files.filter((f) => !allowed.includes(f)));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

// ---------------------------------------------------------------------------------------------
// Rule 1

Deno.test("rule 1: server/http is sans-IO (no Deno, await, async, timers, Promise)", () => {
  const p = repository();
  fail("server/http/ must stay free of I/O", sansIoViolations(p, tsFiles("server/http/")));
});

/** Rule 1: server/http/ imports only server/http/ (and `import type` of `HTTP_TYPE_IMPORTS`). */
function httpImportViolations(edges: readonly Edge[]): Violation[] {
  return edges
    .filter(({ file, imp }) =>
      under(file, "server/http/") &&
      !(imp.target.startsWith("server/http/") ||
        (imp.kind === "type" && HTTP_TYPE_IMPORTS.includes(imp.target)))
    )
    .map(({ file, imp }) => importViolation(file, imp, "server/http/ reaches outside"));
}

Deno.test("rule 1: server/http imports only siblings and config types", () => {
  fail("server/http/ imports", httpImportViolations(importsUnder("server/http/")));
});

// ---------------------------------------------------------------------------------------------
// Rule 2

/** Rule 2: server/ never reaches gateway/. */
function serverImportViolations(edges: readonly Edge[]): Violation[] {
  return edges
    .filter(({ file, imp }) => under(file, "server/") && imp.target.startsWith("gateway/"))
    .map(({ file, imp }) => importViolation(file, imp, "server/ depends on gateway/"));
}

/** Rule 2: apps/ import only `APP_ENTRY`, npm:/node: packages and each other. */
function appImportViolations(edges: readonly Edge[]): Violation[] {
  return edges
    .filter(({ file, imp }) =>
      under(file, "apps/") &&
      !(imp.target === APP_ENTRY || imp.target.startsWith("npm:") ||
        imp.target.startsWith("node:") || imp.target.startsWith("apps/"))
    )
    .map(({ file, imp }) => importViolation(file, imp, `apps may import only ${APP_ENTRY}`));
}

/** Rule 2: nothing outside tests/ imports main.ts; only apps, bench and the loader reach apps/. */
function entryImportViolations(edges: readonly Edge[]): Violation[] {
  const vs: Violation[] = [];
  for (const { file, imp } of edges) {
    if (under(file, "tests/")) continue;
    if (imp.target === "main.ts") vs.push(importViolation(file, imp, "imports the CLI entry"));
    if (
      imp.target.startsWith("apps/") && !under(file, "apps/") && !under(file, "bench/") &&
      !LOADER_FILES.includes(file)
    ) {
      vs.push(importViolation(file, imp, "only tests, bench and the loader load apps"));
    }
  }
  return vs;
}

Deno.test("rule 2: server never imports gateway", () => {
  fail("server/ imports gateway/", serverImportViolations(importsUnder("server/")));
});

Deno.test("rule 2: apps import only the gateway entry, packages and each other", () => {
  fail("apps/ imports", appImportViolations(importsUnder("apps/")));
});

Deno.test("rule 2: nothing but tests imports main.ts; only tests, bench and the loader reach apps", () => {
  const edges = importsUnder("server/", "gateway/", "main.ts", "apps/", "bench/");
  fail("main.ts / apps/ reach", entryImportViolations(edges));
});

// ---------------------------------------------------------------------------------------------
// Rule 3

/** Rule 3: gateway/ imports server/http/ at runtime, only types from the rest of server/. */
function gatewayImportViolations(edges: readonly Edge[]): Violation[] {
  return edges
    .filter(({ file, imp }) =>
      under(file, "gateway/") && imp.target.startsWith("server/") &&
      !imp.target.startsWith("server/http/") && imp.kind !== "type" &&
      !(GATEWAY_WEBSOCKET_EXCEPTION.from.includes(file) &&
        matches(imp.target, GATEWAY_WEBSOCKET_EXCEPTION.to))
    )
    .map(({ file, imp }) => importViolation(file, imp, "gateway/ may only import types here"));
}

/** Rule 3: only `LOADER_FILES` import dynamically (and `LAZY_IMPORTS` their listed modules). */
function dynamicImportViolations(edges: readonly Edge[]): Violation[] {
  return edges
    .filter(({ file, imp }) =>
      imp.kind === "dynamic" && !LOADER_FILES.includes(file) &&
      !(LAZY_IMPORTS[file] ?? []).includes(imp.target)
    )
    .map(({ file, imp }) => importViolation(file, imp, "dynamic import outside the loader"));
}

/**
 * Rule 3: a module listed in `lazy` is not loaded at start anyway, i.e. not reachable from main.ts
 * through runtime imports (type-only and dynamic imports are not followed).
 */
function eagerLazyViolations(
  edges: readonly Edge[],
  lazy: Record<string, readonly string[]> = LAZY_IMPORTS,
): Violation[] {
  const next = new Map<string, string[]>();
  for (const { file, imp } of edges) {
    if (imp.kind === "value") next.set(file, [...(next.get(file) ?? []), imp.target]);
  }
  const loaded = new Set(["main.ts"]);
  const todo = ["main.ts"];
  while (todo.length > 0) {
    for (const t of next.get(todo.pop()!) ?? []) {
      if (loaded.has(t)) continue;
      loaded.add(t);
      todo.push(t);
    }
  }
  return Object.entries(lazy).flatMap(([file, targets]) =>
    targets.filter((t) => loaded.has(t)).map((t) => ({
      file,
      line: 1,
      what: `imports ${t} lazily, but main.ts loads it at start`,
    }))
  );
}

Deno.test("rule 3: gateway imports server/http at runtime and only types from the rest of server", () => {
  fail("gateway/ → server/ imports", gatewayImportViolations(importsUnder("gateway/")));
});

Deno.test("rule 3: only the loader imports dynamically", () => {
  const edges = importsUnder("server/", "gateway/", "main.ts");
  fail("dynamic imports", dynamicImportViolations(edges));
});

Deno.test("rule 3: what is imported lazily is not loaded at start anyway", () => {
  fail("lazy imports", eagerLazyViolations(importsUnder("server/", "gateway/", "main.ts")));
});

// ---------------------------------------------------------------------------------------------
// Rule 4

Deno.test("rule 4: only the socket driver touches sockets", () => {
  fail(
    `socket use outside ${
      [
        ...DRIVER_FILES,
        ...WEBSOCKET_IO_FILES,
        ...OUTBOUND_FILES,
        ...PRIVILEGE_FILES,
        ...CONTROL_FILES,
      ].join(", ")
    }`,
    socketOffenders(repository(), PROGRAM_FILES),
  );
});

// ---------------------------------------------------------------------------------------------
// Rule 5

Deno.test("rule 5: only the Deno-internals module reads Deno's private state", () => {
  const files = PROGRAM_FILES.filter((f) => !INTERNALS_FILES.includes(f));
  fail("Deno internals outside INTERNALS_FILES", internalsViolations(repository(), files));
});

// ---------------------------------------------------------------------------------------------
// Rule 6

/** Rule 6: files (path → line count) over `SIZE_BUDGET` and not exempt. */
function sizeViolations(sizes: ReadonlyMap<string, number>): Violation[] {
  return [...sizes]
    .filter(([f, n]) => n > SIZE_BUDGET && !SIZE_EXEMPT_PENDING.includes(f))
    .map(([f, n]) => ({ file: f, line: n, what: `${n} lines (budget ${SIZE_BUDGET})` }));
}

Deno.test(`rule 6: no file in server/ or gateway/ exceeds ${SIZE_BUDGET} lines`, () => {
  const files = [...tsFiles("server/"), ...tsFiles("gateway/")];
  fail("files over the line budget", sizeViolations(new Map(files.map((f) => [f, lineCount(f)]))));
});

// ---------------------------------------------------------------------------------------------
// Rule 7

Deno.test("rule 7: no import cycles among server/, gateway/ and main.ts", () => {
  const cycles = cyclesOf(graphOf(PROGRAM_FILES))
    .filter((c) => !CYCLES_PENDING.some((known) => sameSet(known, c)));
  assert.deepEqual(cycles.map((c) => c.join(" → ")), [], "import cycles");
});

// ---------------------------------------------------------------------------------------------
// The allowlists only shrink

Deno.test("allowlists are current (every entry exists and is still needed)", () => {
  const p = repository();
  const stale: string[] = [];
  const named = {
    DRIVER_FILES,
    WEBSOCKET_IO_FILES,
    OUTBOUND_FILES,
    PRIVILEGE_FILES,
    CONTROL_FILES,
    PENDING_MOVE,
    INTERNALS_FILES,
    HTTP_TYPE_IMPORTS,
    LOADER_FILES,
    "GATEWAY_WEBSOCKET_EXCEPTION.from": GATEWAY_WEBSOCKET_EXCEPTION.from,
    SIZE_EXEMPT_PENDING,
    APP_ENTRY: [APP_ENTRY],
  };
  for (const [name, list] of Object.entries(named)) {
    for (const f of list) if (!exists(f)) stale.push(`${name}: ${f} does not exist`);
  }
  for (const f of Object.keys(LAZY_IMPORTS)) {
    if (!exists(f)) stale.push(`LAZY_IMPORTS: ${f} does not exist`);
  }
  const dynamic = importsUnder("server/", "gateway/", "main.ts").filter((e) =>
    e.imp.kind === "dynamic"
  );
  for (const [f, targets] of Object.entries(LAZY_IMPORTS)) {
    for (const t of targets) {
      if (!dynamic.some((e) => e.file === f && e.imp.target === t)) {
        stale.push(`LAZY_IMPORTS: ${f} no longer imports ${t} lazily`);
      }
    }
  }
  for (const f of PENDING_MOVE.filter(exists)) {
    if (socketViolations(p, [f]).length === 0) stale.push(`PENDING_MOVE: ${f} uses no socket`);
  }
  for (const f of SIZE_EXEMPT_PENDING.filter(exists)) {
    const n = lineCount(f);
    if (n <= SIZE_BUDGET) stale.push(`SIZE_EXEMPT_PENDING: ${f} is ${n} lines now`);
  }
  const cycles = cyclesOf(graphOf(PROGRAM_FILES));
  for (const known of CYCLES_PENDING) {
    if (!cycles.some((c) => sameSet(known, c))) {
      stale.push(`CYCLES_PENDING: ${known.join(" ↔ ")} is no longer a cycle`);
    }
  }
  assert.deepEqual(stale, [], "remove these allowlist entries");
});

// ---------------------------------------------------------------------------------------------
// Fixtures: every rule can fail

const FIXTURES: Record<string, string> = {
  "fixture/socket_read.ts": `
export async function pump(x: Deno.Conn): Promise<number | null> {
  return await x.read(new Uint8Array(8));
}`,
  "fixture/socket_listen.ts": `
export function bind(): Deno.Listener {
  return Deno.listen({ port: 0 });
}`,
  "fixture/socket_indirect.ts": `
interface Wrapped extends Deno.TcpConn { tag: string }
export function a(w: Wrapped): void { w.close(); }
export function b(c: Deno.TlsConn | null): void { c?.closeWrite(); }
export function c<T extends Deno.Conn>(t: T): ReadableStream<Uint8Array> { return t.readable; }
export async function d(l: Deno.TcpListener): Promise<void> { for await (const _ of l) break; }
export function e(conn: Deno.UnixConn): void { const { write } = conn; void write; }
export function f(): void { const bind = Deno.listenTls; void bind; }
export function g(): void { const { connect } = Deno; void connect; }
export function h(conn: Deno.Conn): void { conn["write"](new Uint8Array(1)); }
export function i(): void { Deno.dlopen("libc.so.6", {}).close(); }`,
  "fixture/socket_ok.ts": `
export interface Takeover { takeover(): Promise<{ conn: Deno.Conn }> }
export function hand(conn: Deno.Conn, to: (c: Deno.Conn) => void): void { to(conn); }
export function notSocket(x: { read(): number; close(): void }): number { x.close(); return x.read(); }
export function named(conn: { write(b: Uint8Array): void }): void { conn.write(new Uint8Array(1)); }`,
  "fixture/http_bad.ts": `
export async function a(): Promise<void> { await 0; }
export function b(): void { setTimeout(() => {}, 1); globalThis.queueMicrotask(() => {}); }
export function c(): number { return Deno.pid; }
export function d(): unknown { return Promise.resolve(1); }`,
  "fixture/http_ok.ts": `
const timers = { setTimeout: (n: number) => n };
export function a(setInterval: number): number { return timers.setTimeout(setInterval); }
export const note = "calls Deno.listen and await in a string";
export function* gen(): Generator<number> { yield 1; }`,
  "fixture/internals_bad.ts": `
export const key = Symbol.for("x");
export function slots(r: Request, h: Headers): symbol[] {
  return [...Object.getOwnPropertySymbols(r), ...Object.getOwnPropertySymbols(h)];
}
export function internal(): unknown { return (Deno as unknown as Record<string, unknown>).internal; }
export function replace(f: unknown): void {
  Object.defineProperty(Deno, "upgradeWebSocket", { value: f });
}
export function assign(t: { upgradeWebSocket: unknown }, f: unknown): void { t.upgradeWebSocket = f; }`,
  "fixture/internals_ok.ts": `
export const own = Symbol("mine");
export function keys(o: { a: number }): symbol[] { return Object.getOwnPropertySymbols(o); }
export function upgrade(r: Request): Response { return Deno.upgradeWebSocket(r).response; }`,
};

let fixtureProject: Project | undefined;
function fixtures(): Project {
  return fixtureProject ??= loadProject(FIXTURES, true);
}

function lines(vs: readonly Violation[]): string[] {
  return vs.map((v) => `${v.file}:${v.line}: ${v.what}`);
}

Deno.test("rule 4 fixture: socket use is found through any variable name", () => {
  const p = fixtures();
  assert.deepEqual(lines(socketViolations(p, ["fixture/socket_read.ts"])), [
    "fixture/socket_read.ts:3: calls .read() on x (Deno.Conn)",
  ]);
  assert.deepEqual(lines(socketViolations(p, ["fixture/socket_listen.ts"])), [
    "fixture/socket_listen.ts:3: calls Deno.listen",
  ]);
  assert.deepEqual(lines(socketViolations(p, ["fixture/socket_indirect.ts"])), [
    "fixture/socket_indirect.ts:3: calls .close() on w (Deno.TcpConn)",
    "fixture/socket_indirect.ts:4: calls .closeWrite() on c (Deno.TlsConn)",
    "fixture/socket_indirect.ts:5: accesses .readable on t (Deno.Conn)",
    "fixture/socket_indirect.ts:6: iterates l (Deno.TcpListener)",
    "fixture/socket_indirect.ts:7: destructures a socket (Deno.UnixConn)",
    "fixture/socket_indirect.ts:8: references Deno.listenTls",
    "fixture/socket_indirect.ts:9: references Deno.connect",
    `fixture/socket_indirect.ts:10: calls ."write"() on conn (Deno.Conn)`,
    "fixture/socket_indirect.ts:11: calls Deno.dlopen",
  ]);
  assert.deepEqual(lines(socketViolations(p, ["fixture/socket_ok.ts"])), []);
});

Deno.test("rule 1 fixture: await, timers, Promise and Deno are found; look-alikes are not", () => {
  const p = fixtures();
  assert.deepEqual(lines(sansIoViolations(p, ["fixture/http_bad.ts"])), [
    "fixture/http_bad.ts:2: declares an async function",
    "fixture/http_bad.ts:2: refers to Promise",
    "fixture/http_bad.ts:2: awaits",
    "fixture/http_bad.ts:3: refers to setTimeout",
    "fixture/http_bad.ts:3: refers to queueMicrotask",
    "fixture/http_bad.ts:4: refers to Deno",
    "fixture/http_bad.ts:5: refers to Promise",
  ]);
  assert.deepEqual(lines(sansIoViolations(p, ["fixture/http_ok.ts"])), []);
});

Deno.test("rule 5 fixture: internals reads and upgradeWebSocket replacement are found", () => {
  const p = fixtures();
  assert.deepEqual(lines(internalsViolations(p, ["fixture/internals_bad.ts"])), [
    "fixture/internals_bad.ts:2: calls Symbol.for",
    "fixture/internals_bad.ts:4: calls Object.getOwnPropertySymbols on a Request",
    "fixture/internals_bad.ts:4: calls Object.getOwnPropertySymbols on a Headers",
    "fixture/internals_bad.ts:6: reads Deno.internal",
    "fixture/internals_bad.ts:6: casts Deno to another shape",
    "fixture/internals_bad.ts:8: calls Object.defineProperty on Deno",
    "fixture/internals_bad.ts:10: assigns upgradeWebSocket",
  ]);
  assert.deepEqual(lines(internalsViolations(p, ["fixture/internals_ok.ts"])), []);
});

Deno.test("rule 7 fixture: cycles are reported as paths, acyclic graphs pass", () => {
  const graph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts"]],
    ["c.ts", ["a.ts", "d.ts"]],
    ["d.ts", []],
    ["e.ts", ["e.ts"]],
  ]);
  assert.deepEqual(cyclesOf(graph), [["a.ts", "b.ts", "c.ts", "a.ts"], ["e.ts", "e.ts"]]);
  assert.deepEqual(cyclesOf(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), []);
});

Deno.test("rules 1-3, 6 fixture: each import and size rule reports its violation", () => {
  const edge = (file: string, target: string, kind: Import["kind"] = "value"): Edge => ({
    file,
    imp: { spec: target, target, kind, line: 1 },
  });
  const edges = [
    edge("server/http/a.ts", "server/http/b.ts"),
    edge("server/http/a.ts", "server/config.ts", "type"),
    edge("server/http/a.ts", "server/config.ts"),
    edge("server/http/a.ts", "server/log.ts", "type"),
    edge("server/a.ts", "gateway/types.ts", "type"),
    edge("apps/a.ts", APP_ENTRY),
    edge("apps/a.ts", "npm:hono@4"),
    edge("apps/a.ts", "apps/b.ts"),
    edge("apps/a.ts", "gateway/fetch.ts"),
    edge("gateway/a.ts", "main.ts"),
    edge("tests/a_test.ts", "main.ts"),
    edge("server/a.ts", "apps/hello.ts"),
    edge("bench/a.ts", "apps/hello.ts"),
    edge("gateway/a.ts", "server/http/status.ts"),
    edge("gateway/a.ts", "server/exchange.ts", "type"),
    edge("gateway/a.ts", "server/exchange.ts"),
    edge(GATEWAY_WEBSOCKET_EXCEPTION.from[0], "server/websocket.ts"),
    edge("gateway/a.ts", "server/websocket.ts"),
    edge(LOADER_FILES[0], "<computed>", "dynamic"),
    edge("server/a.ts", "server/b.ts", "dynamic"),
  ];
  const found = (vs: Violation[]) => vs.map((v) => `${v.file} → ${v.what}`);
  assert.deepEqual(found(httpImportViolations(edges)), [
    "server/http/a.ts → server/http/ reaches outside: value import of server/config.ts",
    "server/http/a.ts → server/http/ reaches outside: type import of server/log.ts",
  ]);
  assert.deepEqual(found(serverImportViolations(edges)), [
    "server/a.ts → server/ depends on gateway/: type import of gateway/types.ts",
  ]);
  assert.deepEqual(found(appImportViolations(edges)), [
    `apps/a.ts → apps may import only ${APP_ENTRY}: value import of gateway/fetch.ts`,
  ]);
  assert.deepEqual(found(entryImportViolations(edges)), [
    "gateway/a.ts → imports the CLI entry: value import of main.ts",
    "server/a.ts → only tests, bench and the loader load apps: value import of apps/hello.ts",
  ]);
  assert.deepEqual(found(gatewayImportViolations(edges)), [
    "gateway/a.ts → gateway/ may only import types here: value import of server/exchange.ts",
    "gateway/a.ts → gateway/ may only import types here: value import of server/websocket.ts",
  ]);
  assert.deepEqual(found(dynamicImportViolations(edges)), [
    "server/a.ts → dynamic import outside the loader: dynamic import of server/b.ts",
  ]);
  const lazy = { "main.ts": ["server/b.ts", "server/c.ts", "node:path"] };
  const startEdges = [
    edge("main.ts", "server/a.ts"),
    edge("server/a.ts", "server/b.ts"),
    edge("server/a.ts", "server/c.ts", "type"),
    edge("main.ts", "node:path", "dynamic"),
  ];
  assert.deepEqual(found(eagerLazyViolations(startEdges, lazy)), [
    "main.ts → imports server/b.ts lazily, but main.ts loads it at start",
  ]);
  const sizes = new Map([["server/a.ts", SIZE_BUDGET + 1], ["server/b.ts", SIZE_BUDGET]]);
  assert.deepEqual(found(sizeViolations(sizes)), [
    `server/a.ts → ${SIZE_BUDGET + 1} lines (budget ${SIZE_BUDGET})`,
  ]);
});

Deno.test("import extraction: kinds and targets come from the AST", () => {
  const p = loadProject({
    "server/x.ts": `
import type { A } from "./a.ts";
import { type B, c } from "../gateway/b.ts";
export { d } from "./http/d.ts";
export type { E } from "./e.ts";
let f: typeof import("./f.ts");
const g = await import("./g.ts");
const h = await import(g.name);
// import { z } from "../main.ts";
const s = 'import { y } from "../main.ts"';
`,
  }, true);
  const got = importsOf(p.source("server/x.ts"), "server/x.ts")
    .map((i) => `${i.line} ${i.kind} ${i.target}`);
  assert.deepEqual(got, [
    "2 type server/a.ts",
    "3 value gateway/b.ts",
    "4 value server/http/d.ts",
    "5 type server/e.ts",
    "6 type server/f.ts",
    "7 dynamic server/g.ts",
    "8 dynamic <computed>",
  ]);
});
