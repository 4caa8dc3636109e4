/**
 * A small JSONC reader for the config file (`--config`): JSON plus `//` and `/* *\/` comments and
 * trailing commas, nothing else (no single quotes, no unquoted keys, no NaN).
 *
 * Contract:
 * - `parseJsonc(text)` returns the value and, when it is an object, the 1-based line of each of
 *   its own (top-level) keys, so callers can point at `file:line`.
 * - Comment markers inside strings are string content (`"http://x"` keeps its `//`).
 * - Any syntax error, and a key repeated in one object (which `JSON.parse` would silently let the
 *   last one win), throws `JsoncError` with the 1-based line and column where it was found.
 * - A leading byte-order mark is ignored. Objects are built without a prototype, so a
 *   `"__proto__"` key is plain data.
 * - Pure: no I/O, imports nothing.
 */

/** A JSONC syntax error at a position in the text. */
export class JsoncError extends Error {
  /** Creates the error; `message` is `reason at line:column`. */
  constructor(
    /** What is wrong, e.g. `expected ',' or '}', got ']'`. */
    readonly reason: string,
    /** 1-based line. */
    readonly line: number,
    /** 1-based column (UTF-16 code units). */
    readonly column: number,
  ) {
    super(`${reason} at ${line}:${column}`);
    this.name = "JsoncError";
  }
}

/** A parsed JSONC document. */
export interface JsoncDocument {
  /** The value (objects have no prototype). */
  readonly value: unknown;
  /** Line of each key of the top-level object (empty when the value is not an object). */
  readonly keyLines: ReadonlyMap<string, number>;
}

/** Objects and arrays nested deeper than this are refused (a config file is shallow). */
const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

class Reader {
  pos = 0;
  readonly keyLines = new Map<string, number>();

  constructor(readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  fail(reason: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new JsoncError(reason, line, at - lineStart + 1);
  }

  lineAt(at: number): number {
    let line = 1;
    for (let i = 0; i < at; i++) if (this.text.charCodeAt(i) === 10) line++;
    return line;
  }

  /** What is at `pos`, for error messages. */
  got(): string {
    return this.pos >= this.text.length ? "end of file" : `'${this.text[this.pos]}'`;
  }

  /** Skips whitespace and comments. */
  skip(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") {
        this.pos++;
      } else if (c === "/" && t[this.pos + 1] === "/") {
        const end = t.indexOf("\n", this.pos + 2);
        this.pos = end < 0 ? t.length : end + 1;
      } else if (c === "/" && t[this.pos + 1] === "*") {
        const end = t.indexOf("*/", this.pos + 2);
        if (end < 0) this.fail("unterminated /* comment");
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  value(depth: number): unknown {
    this.skip();
    const c = this.text[this.pos];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
      return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (
        this.text.startsWith(word, this.pos) &&
        !/[A-Za-z0-9_$]/.test(this.text[this.pos + word.length] ?? "")
      ) {
        this.pos += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m && !/[A-Za-z0-9_$.]/.test(this.text[this.pos + m[0].length] ?? "")) {
      this.pos += m[0].length;
      return Number(m[0]);
    }
    return this.fail(`expected a JSON value, got ${this.got()}`);
  }

  string(): string {
    const t = this.text;
    const start = this.pos++;
    while (true) {
      if (this.pos >= t.length) this.fail("unterminated string", start);
      const code = t.charCodeAt(this.pos);
      if (code === 0x22) break;
      if (code < 0x20) this.fail("control character in string (escape it)");
      if (code === 0x5c) {
        const e = t[this.pos + 1];
        if (e === "u") {
          HEX4.lastIndex = this.pos + 2;
          if (!HEX4.test(t)) this.fail("invalid \\u escape in string");
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail("invalid escape in string");
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    // The literal was checked above, so JSON.parse decodes it and cannot fail.
    return JSON.parse(t.slice(start, this.pos));
  }

  array(depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skip();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    while (true) {
      out.push(this.value(depth));
      this.skip();
      const c = this.text[this.pos];
      if (c === "]") break;
      if (c !== ",") this.fail(`expected ',' or ']', got ${this.got()}`);
      this.pos++;
      this.skip();
      if (this.text[this.pos] === "]") break; // trailing comma
    }
    this.pos++;
    return out;
  }

  object(depth: number): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = Object.create(null);
    this.skip();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    while (true) {
      if (this.text[this.pos] !== '"') {
        this.fail(`expected a property name in double quotes, got ${this.got()}`);
      }
      const at = this.pos;
      const key = this.string();
      if (Object.hasOwn(out, key)) this.fail(`duplicate key '${key}'`, at);
      if (depth === 1) this.keyLines.set(key, this.lineAt(at));
      this.skip();
      if (this.text[this.pos] !== ":") this.fail(`expected ':', got ${this.got()}`);
      this.pos++;
      out[key] = this.value(depth);
      this.skip();
      const c = this.text[this.pos];
      if (c === "}") break;
      if (c !== ",") this.fail(`expected ',' or '}', got ${this.got()}`);
      this.pos++;
      this.skip();
      if (this.text[this.pos] === "}") break; // trailing comma
    }
    this.pos++;
    return out;
  }
}

/** Parses JSONC text (see the module comment); throws `JsoncError` with line and column. */
export function parseJsonc(text: string): JsoncDocument {
  const r = new Reader(text);
  const value = r.value(0);
  r.skip();
  if (r.pos < text.length) r.fail(`unexpected ${r.got()} after the JSON value`);
  return { value, keyLines: r.keyLines };
}
