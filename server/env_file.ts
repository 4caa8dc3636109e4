/**
 * `--env-file`: a dotenv file of `KEY=VALUE` lines added to the environment at start (uvicorn's
 * `--env-file`, Deno's and docker's `--env-file`).
 *
 * Contract (pure: the caller reads the file and applies the result):
 * - `parseEnvFile(text, name)` returns the assignments in file order, or throws `ConfigError`
 *   naming `name:line` and what is wrong.
 * - A line is blank, a comment (`#` as its first non-blank character), or
 *   `[export ]KEY=VALUE` with a POSIX name (`[A-Za-z_][A-Za-z0-9_]*`) and optional blanks around
 *   `=`. VALUE is one of:
 *   - `'...'`: taken literally;
 *   - `"..."`: with the escapes `\n`, `\r`, `\t`, `\"` and `\\` (another backslash stays as is);
 *   - unquoted: up to a ` #` comment or the end of the line, surrounding blanks removed.
 *   A quoted value must close on its line and may be followed only by blanks and a comment.
 *   There is no `${VAR}` expansion: a `$` is an ordinary character.
 * - `mergeEnv(env, entries)` returns `env` with the entries added, except for names `env`
 *   already has (a variable set by the caller wins, as with python-dotenv, Deno and docker); a
 *   name repeated in the file takes its last value.
 * - `parseEnvAssignment(text)` reads one `--env KEY=VALUE` (gunicorn's `-e`): the value is
 *   everything after the first `=`, taken literally; throws `ConfigError` for a bad name or a
 *   missing `=`.
 */
import { ConfigError } from "./config_file.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

/** Parses a dotenv file; see the module comment. */
export function parseEnvFile(text: string, name: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const fail = (what: string): never => {
      throw new ConfigError(`${name}:${i + 1}: ${what}`);
    };
    let line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    if (/^export\s/.test(line)) line = line.slice(6).trimStart();
    const eq = line.indexOf("=");
    if (eq < 0) fail("expected KEY=VALUE");
    const key = line.slice(0, eq).trimEnd();
    if (!NAME.test(key)) fail(`'${key}' is not a variable name (letters, digits, '_')`);
    const raw = line.slice(eq + 1).trimStart();
    let value: string;
    let rest = "";
    if (raw.startsWith("'")) {
      const end = raw.indexOf("'", 1);
      if (end < 0) fail("the single quote is not closed on this line");
      value = raw.slice(1, end);
      rest = raw.slice(end + 1);
    } else if (raw.startsWith('"')) {
      value = "";
      let j = 1;
      for (; j < raw.length && raw[j] !== '"'; j++) {
        if (raw[j] === "\\" && j + 1 < raw.length) {
          const e = ESCAPES[raw[j + 1]];
          value += e ?? `\\${raw[j + 1]}`;
          j++;
        } else {
          value += raw[j];
        }
      }
      if (j >= raw.length) fail("the double quote is not closed on this line");
      rest = raw.slice(j + 1);
    } else {
      const hash = raw.search(/\s#/);
      value = (hash < 0 ? raw : raw.slice(0, hash)).trimEnd();
    }
    if (rest.trim() !== "" && !rest.trim().startsWith("#")) {
      fail("unexpected text after the quoted value");
    }
    out.push([key, value]);
  }
  return out;
}

/** One `--env KEY=VALUE`; see the module comment. */
export function parseEnvAssignment(text: string): [string, string] {
  const eq = text.indexOf("=");
  const key = eq < 0 ? text : text.slice(0, eq);
  if (eq < 0) throw new ConfigError(`--env ${text}: expected KEY=VALUE`);
  if (!NAME.test(key)) {
    throw new ConfigError(`--env ${text}: '${key}' is not a variable name (letters, digits, '_')`);
  }
  return [key, text.slice(eq + 1)];
}

/** `env` plus the file's entries, the caller's variables winning; see the module comment. */
export function mergeEnv(
  env: Readonly<Record<string, string>>,
  entries: ReadonlyArray<readonly [string, string]>,
): Record<string, string> {
  const merged: Record<string, string> = { ...env };
  for (const [key, value] of entries) if (!(key in env)) merged[key] = value;
  return merged;
}
