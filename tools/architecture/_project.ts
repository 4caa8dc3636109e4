/**
 * Machinery for the architecture tests (tools/architecture/rules_test.ts, run by tests/architecture_test.ts).
 *
 * Contract:
 * - `importsOf(sf, rel)` lists every module a file reaches, read from the TypeScript AST (not
 *   from text): static imports, re-exports, `import x = require()`, dynamic `import()` and
 *   `import("…")` type queries, each with its repository-relative target, its kind (`value`,
 *   `type` for `import type` / `export type` / type queries, `dynamic`) and its line. An import
 *   whose specifiers are all inline `type` (`import { type A } from`) counts as `value`: the
 *   module is still loaded when `verbatimModuleSyntax` applies.
 * - `loadProject(virtual)` builds one `ts.Program` over every .ts file in server/, gateway/ and
 *   main.ts with Deno's own declarations (the output of `deno types`, served from memory, never
 *   written to disk). `virtual` adds or replaces files by repository-relative path, so the same
 *   rules run on in-memory fixtures. Parsed library files are shared between programs.
 * - The rule functions (`sansIoViolations`, `socketViolations`, `internalsViolations`) return
 *   `Violation`s (file, line, what was found); the test file decides which files they cover and
 *   which files are allowlisted. `cyclesOf` returns the import cycles of a graph.
 */
import ts from "typescript";

/** The repository root, as an absolute path ending in `/`. */
export const ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** The source directories (and files) the program covers. */
export const PROGRAM_SOURCES: readonly string[] = ["server/", "gateway/", "main.ts"];

/** One rule violation: where, and what was found there. */
export interface Violation {
  /** Repository-relative path. */
  file: string;
  /** 1-based line. */
  line: number;
  /** What the code does there, e.g. "calls Deno.listen". */
  what: string;
}

/** Formats violations one per line as `file:line: what`. */
export function report(vs: readonly Violation[]): string {
  return vs.map((v) => `  ${v.file}:${v.line}: ${v.what}`).join("\n");
}

/** Repository-relative paths of the .ts files under `dir` (a folder ending in `/`, or a file). */
export function tsFiles(dir: string): string[] {
  if (!dir.endsWith("/")) return exists(dir) ? [dir] : [];
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(ROOT + rel)];
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    for (const e of entries) {
      if (e.isDirectory) walk(`${rel}${e.name}/`);
      else if (e.isFile && e.name.endsWith(".ts")) out.push(rel + e.name);
    }
  };
  walk(dir);
  return out.sort();
}

/** Whether a repository-relative path exists. */
export function exists(rel: string): boolean {
  try {
    Deno.statSync(ROOT + rel);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Number of lines of a file (as `wc -l` counts a file that ends in a newline). */
export function lineCount(rel: string): number {
  const src = Deno.readTextFileSync(ROOT + rel);
  return src.split("\n").length - (src.endsWith("\n") ? 1 : 0);
}

/** How a module is reached. */
export type ImportKind = "value" | "type" | "dynamic";

/** One edge of the module graph. */
export interface Import {
  /** The specifier as written (`<computed>` for a dynamic import of an expression). */
  spec: string;
  /** Repository-relative path for relative specifiers, else the specifier itself. */
  target: string;
  kind: ImportKind;
  line: number;
}

/** Resolves a specifier written in `fromRel` to a repository-relative path (bare: unchanged). */
export function resolveSpec(fromRel: string, spec: string): string {
  if (!spec.startsWith("./") && !spec.startsWith("../")) return spec;
  return decodeURIComponent(new URL(spec, `file:///${fromRel}`).pathname.slice(1));
}

/** Every import of a source file; see the module comment. */
export function importsOf(sf: ts.SourceFile, rel: string): Import[] {
  const out: Import[] = [];
  const add = (node: ts.Node, spec: string, kind: ImportKind) =>
    out.push({ spec, target: resolveSpec(rel, spec), kind, line: lineOf(sf, node) });
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, node.importClause?.isTypeOnly ? "type" : "value");
    } else if (
      ts.isExportDeclaration(node) && node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text, node.isTypeOnly ? "type" : "value");
    } else if (
      ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node, node.moduleReference.expression.text, node.isTypeOnly ? "type" : "value");
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      add(node, arg && ts.isStringLiteralLike(arg) ? arg.text : "<computed>", "dynamic");
    } else if (
      ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, node.argument.literal.text, "type");
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Parses a file on disk without a program (for apps/, bench/: syntax only). */
export function parseFile(rel: string): ts.SourceFile {
  const text = Deno.readTextFileSync(ROOT + rel);
  return ts.createSourceFile(ROOT + rel, text, ts.ScriptTarget.ESNext, true, ts.ScriptKind.TS);
}

/** 1-based line of a node. */
export function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

// ---------------------------------------------------------------------------------------------
// The program

/** Where Deno's declarations live in every program (a virtual file outside the repository). */
const DENO_TYPES_PATH = "/__deno_types__/lib.deno.d.ts";
/** Virtual file naming the socket types, so the checker hands us their `ts.Type`s. */
const PROBE_REL = "__architecture_probe__.ts";

/** Deno's namespace members that bind, connect or serve sockets, or open native libraries (FFI). */
export const SOCKET_FUNCTIONS: ReadonlySet<string> = new Set([
  "listen",
  "listenTls",
  "connect",
  "connectTls",
  "startTls",
  "serve",
  "upgradeWebSocket",
  "dlopen",
]);

/** Deno's socket types: a receiver of one of these (or assignable to one) is a socket. */
export const SOCKET_TYPES: ReadonlySet<string> = new Set([
  "Conn",
  "TcpConn",
  "UnixConn",
  "TlsConn",
  "Listener",
  "TcpListener",
  "TlsListener",
  "UnixListener",
  "DatagramConn",
  "QuicConn",
  "QuicListener",
]);

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ESNext,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  noEmit: true,
  strict: true,
  skipLibCheck: true,
  types: [],
  lib: ["lib.esnext.d.ts"],
};

let denoTypes: string | undefined;
/** Library source files (TypeScript's lib, Deno's declarations), parsed once per test run. */
const libCache = new Map<string, ts.SourceFile>();

function denoTypesText(): string {
  if (denoTypes === undefined) {
    const out = new Deno.Command(Deno.execPath(), { args: ["types"], stdout: "piped" })
      .outputSync();
    if (!out.success) throw new Error(`deno types failed with code ${out.code}`);
    // The deno.* lib names are Deno's own and are already inlined in this output.
    denoTypes = new TextDecoder().decode(out.stdout)
      .replace(/^\/\/\/ <reference lib="deno\.[^"]*" \/>$/gm, "");
  }
  return denoTypes;
}

/** A program with its checker and the repository files it covers. */
export interface Project {
  program: ts.Program;
  checker: ts.TypeChecker;
  /** Repository-relative paths of the project's own files (disk and virtual), sorted. */
  files: string[];
  /** The parsed file for a repository-relative path. */
  source(rel: string): ts.SourceFile;
  /** `Deno.Conn`, `Deno.Listener`, …: the types a socket receiver is assignable to. */
  socketTargets: ts.Type[];
}

/**
 * Builds the program over server/, gateway/ and main.ts plus `virtual` files (repository-relative
 * path → text; they replace files on disk of the same path). With `onlyVirtual`, the disk files
 * are left out (fixtures then see only each other and Deno's declarations).
 */
export function loadProject(
  virtual: Record<string, string> = {},
  onlyVirtual = false,
): Project {
  const texts = new Map<string, string>();
  for (const [rel, text] of Object.entries(virtual)) texts.set(ROOT + rel, text);
  texts.set(
    ROOT + PROBE_REL,
    [...SOCKET_TYPES].map((n) => `export type ${n} = Deno.${n};`).join("\n"),
  );
  const files = new Set(Object.keys(virtual));
  if (!onlyVirtual) {
    for (const src of PROGRAM_SOURCES) {
      for (const f of tsFiles(src)) files.add(f);
    }
  }

  const host = ts.createCompilerHost(OPTIONS, true);
  // Doc comments do not matter to these rules; skipping them halves the parse of the libraries.
  host.jsDocParsingMode = ts.JSDocParsingMode.ParseNone;
  const diskGetSourceFile = host.getSourceFile.bind(host);
  const diskFileExists = host.fileExists.bind(host);
  const diskReadFile = host.readFile.bind(host);
  host.fileExists = (f) => texts.has(f) || f === DENO_TYPES_PATH || diskFileExists(f);
  host.readFile = (f) =>
    texts.get(f) ?? (f === DENO_TYPES_PATH ? denoTypesText() : diskReadFile(f));
  host.getSourceFile = (fileName, lang, onError, shouldCreate) => {
    const text = texts.get(fileName);
    if (text !== undefined) return ts.createSourceFile(fileName, text, lang, true);
    if (fileName.startsWith(ROOT)) return diskGetSourceFile(fileName, lang, onError, shouldCreate);
    let sf = libCache.get(fileName);
    if (sf === undefined) {
      sf = fileName === DENO_TYPES_PATH
        ? ts.createSourceFile(fileName, denoTypesText(), lang, true)
        : diskGetSourceFile(fileName, lang, onError, shouldCreate);
      if (sf === undefined) return undefined;
      libCache.set(fileName, sf);
    }
    return sf;
  };

  const rootNames = [DENO_TYPES_PATH, ROOT + PROBE_REL, ...[...files].map((f) => ROOT + f)];
  const program = ts.createProgram({ rootNames, options: OPTIONS, host });
  const checker = program.getTypeChecker();
  const probe = program.getSourceFile(ROOT + PROBE_REL)!;
  const socketTargets = probe.statements.filter(ts.isTypeAliasDeclaration)
    .map((d) => checker.getTypeAtLocation(d.type));
  return {
    program,
    checker,
    files: [...files].sort(),
    source(rel) {
      const sf = program.getSourceFile(ROOT + rel);
      if (sf === undefined) throw new Error(`${rel} is not in the program`);
      return sf;
    },
    socketTargets,
  };
}

let repoProject: Project | undefined;
/** The program over the repository as it is on disk (built once per test run). */
export function repository(): Project {
  return repoProject ??= loadProject();
}

// ---------------------------------------------------------------------------------------------
// Symbol helpers

/** Whether a declaration comes from outside the repository (TypeScript's lib or Deno's). */
function isLibDeclaration(decl: ts.Declaration): boolean {
  return !decl.getSourceFile().fileName.startsWith(ROOT);
}

/** Whether a declaration is a member of Deno's `Deno` namespace. */
function inDenoNamespace(decl: ts.Declaration): boolean {
  if (decl.getSourceFile().fileName !== DENO_TYPES_PATH) return false;
  for (let n: ts.Node | undefined = decl.parent; n; n = n.parent) {
    if (ts.isModuleDeclaration(n) && n.name.text === "Deno") return true;
  }
  return false;
}

function resolved(checker: ts.TypeChecker, sym: ts.Symbol | undefined): ts.Symbol | undefined {
  if (sym && sym.flags & ts.SymbolFlags.Alias) return checker.getAliasedSymbol(sym);
  return sym;
}

/** The library global an identifier refers to (its name), or undefined for project symbols. */
function libGlobalOf(checker: ts.TypeChecker, id: ts.Identifier): string | undefined {
  const sym = resolved(checker, checker.getSymbolAtLocation(id));
  if (sym === undefined) return undefined;
  const decls = sym.declarations ?? [];
  return decls.length > 0 && decls.every(isLibDeclaration) ? sym.name : undefined;
}

/** The Deno socket function a symbol is (`Deno.listen`, …), if any. */
function socketFunctionOf(sym: ts.Symbol | undefined): string | undefined {
  if (sym === undefined || !SOCKET_FUNCTIONS.has(sym.name)) return undefined;
  return (sym.declarations ?? []).some(inDenoNamespace) ? `Deno.${sym.name}` : undefined;
}

const NEVER_SOCKETS = ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Never |
  ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike | ts.TypeFlags.BigIntLike |
  ts.TypeFlags.BooleanLike | ts.TypeFlags.ESSymbolLike | ts.TypeFlags.EnumLike |
  ts.TypeFlags.Void | ts.TypeFlags.Undefined | ts.TypeFlags.Null;
const socketTypeCache = new WeakMap<ts.Type, string | null>();

/** The Deno socket type a type is, contains or is assignable to (its name), if any. */
function socketTypeOf(p: Project, type: ts.Type, depth = 0): string | undefined {
  if (type.flags & NEVER_SOCKETS || depth > 8) return undefined;
  let hit = socketTypeCache.get(type);
  if (hit === undefined) {
    hit = findSocketType(p, type, depth) ?? null;
    socketTypeCache.set(type, hit);
  }
  return hit ?? undefined;
}

function findSocketType(p: Project, type: ts.Type, depth: number): string | undefined {
  if (type.isUnionOrIntersection()) {
    for (const t of type.types) {
      const hit = socketTypeOf(p, t, depth + 1);
      if (hit) return hit;
    }
  }
  for (const sym of [type.aliasSymbol, type.getSymbol()]) {
    if (sym && SOCKET_TYPES.has(sym.name) && (sym.declarations ?? []).some(inDenoNamespace)) {
      return `Deno.${sym.name}`;
    }
  }
  const target = (type as ts.TypeReference).target ?? type;
  if (target.isClassOrInterface()) {
    for (const base of p.checker.getBaseTypes(target)) {
      const hit = socketTypeOf(p, base, depth + 1);
      if (hit) return hit;
    }
  }
  if (type.isTypeParameter()) {
    const c = p.checker.getBaseConstraintOfType(type);
    if (c && c !== type) return socketTypeOf(p, c, depth + 1);
  }
  // A library type that is not a socket by name or base (Uint8Array, Map, …) is not one; only
  // the repository's own and anonymous types can match a socket structurally.
  const decls = (type.aliasSymbol ?? type.getSymbol())?.declarations ?? [];
  if (decls.length > 0 && decls.every(isLibDeclaration)) return undefined;
  for (const t of p.socketTargets) {
    if (p.checker.isTypeAssignableTo(type, t)) return `${p.checker.typeToString(t)}-compatible`;
  }
  return undefined;
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  ts.forEachChild(node, (c) => walk(c, visit));
}

// ---------------------------------------------------------------------------------------------
// Rules

/** Library globals the sans-IO core must not reach (timers, Promise, the Deno namespace). */
export const SANS_IO_GLOBALS: ReadonlySet<string> = new Set([
  "Deno",
  "Promise",
  "setTimeout",
  "setInterval",
  "clearTimeout",
  "clearInterval",
  "queueMicrotask",
  "setImmediate",
]);

/**
 * Sans-IO: no `await` (nor `for await`, nor `async` functions) and no reference (value or type)
 * to a library global in `SANS_IO_GLOBALS`, resolved by the checker (a local or a property that
 * happens to be called `setTimeout` is fine; `globalThis.setTimeout` is not).
 */
export function sansIoViolations(p: Project, files: readonly string[]): Violation[] {
  const out: Violation[] = [];
  for (const rel of files) {
    const sf = p.source(rel);
    const hit = (n: ts.Node, what: string) => out.push({ file: rel, line: lineOf(sf, n), what });
    walk(sf, (n) => {
      if (ts.isAwaitExpression(n)) hit(n, "awaits");
      else if (ts.isForOfStatement(n) && n.awaitModifier) hit(n, "uses for await");
      else if (
        ts.canHaveModifiers(n) &&
        ts.getModifiers(n)?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)
      ) {
        hit(n, "declares an async function");
      } else if (ts.isIdentifier(n) && SANS_IO_GLOBALS.has(n.text)) {
        // Unresolved counts as the global: `deno types` leaves the timers to Node's types, and
        // locals, parameters and properties of that name do resolve.
        const sym = p.checker.getSymbolAtLocation(n);
        const name = sym === undefined ? n.text : libGlobalOf(p.checker, n);
        if (name !== undefined && SANS_IO_GLOBALS.has(name)) hit(n, `refers to ${name}`);
      }
    });
  }
  return out;
}

/**
 * Socket use: (a) any reference to `Deno.listen`, `Deno.connect`, … (`SOCKET_FUNCTIONS`), called
 * or not, destructured or not; (b) any property or element access, destructuring, `for await`
 * iteration or `using` whose receiver's type is, contains or is assignable to a Deno socket type
 * (`SOCKET_TYPES`). Type-only mentions and passing a socket along are not socket use.
 */
export function socketViolations(p: Project, files: readonly string[]): Violation[] {
  const { checker } = p;
  const out: Violation[] = [];
  for (const rel of files) {
    const sf = p.source(rel);
    const hit = (n: ts.Node, what: string) => out.push({ file: rel, line: lineOf(sf, n), what });
    const socketFn = (n: ts.Node, sym: ts.Symbol | undefined) => {
      const fn = socketFunctionOf(resolved(checker, sym));
      if (fn === undefined) return;
      const call = ts.isCallExpression(n.parent) && n.parent.expression === n;
      hit(n, `${call ? "calls" : "references"} ${fn}`);
    };
    walk(sf, (n) => {
      if (ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) {
        socketFn(
          n,
          checker.getSymbolAtLocation(
            ts.isPropertyAccessExpression(n) ? n.name : n.argumentExpression,
          ),
        );
        const recv = socketTypeOf(p, checker.getTypeAtLocation(n.expression));
        if (recv !== undefined) {
          const name = ts.isPropertyAccessExpression(n)
            ? n.name.text
            : n.argumentExpression.getText(sf);
          const call = ts.isCallExpression(n.parent) && n.parent.expression === n;
          hit(
            n,
            `${call ? "calls" : "accesses"} .${name}${call ? "()" : ""} on ${
              n.expression.getText(sf)
            } (${recv})`,
          );
        }
      } else if (ts.isObjectBindingPattern(n)) {
        const type = checker.getTypeAtLocation(n);
        const recv = socketTypeOf(p, type);
        if (recv !== undefined) hit(n, `destructures a socket (${recv})`);
        for (const el of n.elements) {
          const key = el.propertyName ?? el.name;
          if (ts.isIdentifier(key)) socketFn(el, checker.getPropertyOfType(type, key.text));
        }
      } else if (ts.isForOfStatement(n)) {
        const recv = socketTypeOf(p, checker.getTypeAtLocation(n.expression));
        if (recv !== undefined) hit(n, `iterates ${n.expression.getText(sf)} (${recv})`);
      } else if (
        ts.isVariableDeclarationList(n) && (n.flags & ts.NodeFlags.Using) !== 0
      ) {
        for (const d of n.declarations) {
          const recv = socketTypeOf(p, checker.getTypeAtLocation(d));
          if (recv !== undefined) hit(d, `disposes a socket with using (${recv})`);
        }
      }
    });
  }
  return out;
}

/** The expression under parentheses, casts, `satisfies` and `!`. */
function skipOuter(e: ts.Expression): ts.Expression {
  while (
    ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isTypeAssertionExpression(e) ||
    ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e)
  ) {
    e = e.expression;
  }
  return e;
}

/** Whether an expression is the `Deno` namespace itself (possibly parenthesized or cast). */
function isDenoNamespace(checker: ts.TypeChecker, e: ts.Expression): boolean {
  const inner = skipOuter(e);
  if (ts.isIdentifier(inner)) return libGlobalOf(checker, inner) === "Deno";
  if (ts.isPropertyAccessExpression(inner) && inner.name.text === "Deno") {
    const sym = resolved(checker, checker.getSymbolAtLocation(inner.name));
    return sym !== undefined && (sym.declarations ?? []).some(isLibDeclaration);
  }
  return false;
}

const BODY_TYPES = new Set(["Request", "Headers", "Response"]);
const DEFINERS = new Set([
  "Object.defineProperty",
  "Object.defineProperties",
  "Object.assign",
  "Reflect.set",
  "Reflect.defineProperty",
]);

/**
 * Deno internals: `Symbol.for(…)`; `Deno.internal` or `Deno[…]`; `Deno` cast to another shape;
 * `Object.getOwnPropertySymbols` / `Reflect.ownKeys` on a `Request`, `Headers` or `Response` (or
 * a value of unknown type); assigning `upgradeWebSocket` on anything, or defining or assigning
 * properties on `Deno` (`Object.defineProperty(Deno, …)`, `Object.assign(Deno, …)`, …).
 */
export function internalsViolations(p: Project, files: readonly string[]): Violation[] {
  const { checker } = p;
  const out: Violation[] = [];
  const qualified = (e: ts.Expression): string | undefined => {
    if (!ts.isPropertyAccessExpression(e) || !ts.isIdentifier(e.expression)) return undefined;
    const owner = libGlobalOf(checker, e.expression);
    return owner === undefined ? undefined : `${owner}.${e.name.text}`;
  };
  for (const rel of files) {
    const sf = p.source(rel);
    const hit = (n: ts.Node, what: string) => out.push({ file: rel, line: lineOf(sf, n), what });
    walk(sf, (n) => {
      if (ts.isCallExpression(n)) {
        const callee = qualified(n.expression);
        if (callee === "Symbol.for") hit(n, "calls Symbol.for");
        if (callee === "Object.getOwnPropertySymbols" || callee === "Reflect.ownKeys") {
          const arg = n.arguments[0];
          const t = arg && checker.getTypeAtLocation(arg);
          const name = t?.getSymbol()?.name;
          const unknown = t && (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0;
          if (unknown || (name !== undefined && BODY_TYPES.has(name))) {
            hit(n, `calls ${callee} on ${unknown ? "an untyped value" : `a ${name}`}`);
          }
        }
        if (callee !== undefined && DEFINERS.has(callee)) {
          const [target, key] = n.arguments;
          if (target && isDenoNamespace(checker, target)) hit(n, `calls ${callee} on Deno`);
          else if (key && ts.isStringLiteralLike(key) && key.text === "upgradeWebSocket") {
            hit(n, `calls ${callee} for upgradeWebSocket`);
          }
        }
      } else if (ts.isPropertyAccessExpression(n) && isDenoNamespace(checker, n.expression)) {
        if (n.name.text === "internal") hit(n, "reads Deno.internal");
      } else if (ts.isElementAccessExpression(n) && isDenoNamespace(checker, n.expression)) {
        hit(n, `indexes Deno[${n.argumentExpression.getText(sf)}]`);
      } else if (
        (ts.isAsExpression(n) || ts.isTypeAssertionExpression(n)) &&
        isDenoNamespace(checker, n.expression) &&
        !(ts.isAsExpression(n.parent) || ts.isTypeAssertionExpression(n.parent))
      ) {
        hit(n, "casts Deno to another shape");
      } else if (
        ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
        n.operatorToken.kind <= ts.SyntaxKind.LastAssignment
      ) {
        const left = skipOuter(n.left);
        const key = ts.isPropertyAccessExpression(left)
          ? left.name.text
          : ts.isElementAccessExpression(left) && ts.isStringLiteralLike(left.argumentExpression)
          ? left.argumentExpression.text
          : undefined;
        if (key === "upgradeWebSocket") hit(n, "assigns upgradeWebSocket");
        else if (
          (ts.isPropertyAccessExpression(left) || ts.isElementAccessExpression(left)) &&
          isDenoNamespace(checker, left.expression)
        ) {
          hit(n, `assigns Deno.${key ?? "[…]"}`);
        }
      }
    });
  }
  return out;
}

/** A module graph: file → the files it imports. */
export type Graph = ReadonlyMap<string, readonly string[]>;

/**
 * The import cycles of a graph: one per strongly connected component (two or more files, or a
 * file importing itself), as a path that starts and ends at the component's first file in sorted
 * order, e.g. `["a.ts", "b.ts", "a.ts"]`.
 */
export function cyclesOf(graph: Graph): string[][] {
  // Tarjan's algorithm.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sccs: string[][] = [];
  const connect = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      sccs.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);

  const cycles: string[][] = [];
  for (const scc of sccs) {
    const members = new Set(scc);
    const start = [...scc].sort()[0];
    if (scc.length === 1 && !(graph.get(start) ?? []).includes(start)) continue;
    // Shortest path start → … → start inside the component (breadth-first).
    const prev = new Map<string, string>();
    const queue = [start];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift()!;
      for (const w of [...(graph.get(v) ?? [])].sort()) {
        if (!members.has(w)) continue;
        if (w === start) {
          prev.set(start, v);
          found = true;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = prev.get(start)!; v !== start; v = prev.get(v)!) path.unshift(v);
    path.unshift(start);
    cycles.push(path);
  }
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}
