/**
 * Local paths to `file:` URLs and back, for the app loader, without `node:path` and `node:url`.
 *
 * Contract:
 * - `moduleFileUrl(cwd, path)` is `pathToFileURL(resolve(cwd, path))` of `node:url` and
 *   `node:path`; `fileUrlPath(url)` is `fileURLToPath(url)` (it throws a `TypeError` for a URL
 *   with a host or an encoded "/", as Node does). Both return what Node's functions return.
 * - On POSIX systems both are written out here: an absolute path joined and normalised ("." and
 *   ".." segments, repeated "/"), then percent-encoded so that "%", "\\", "#", "?", control
 *   characters and non-ASCII text survive the trip. On Windows (drive letters, UNC paths,
 *   backslashes) they defer to `node:path` and `node:url`, imported on first use.
 * - Why not simply import Node's modules: the first of them a process imports sets up part of
 *   Deno's Node compatibility layer, ~0.8 MB of V8 heap and 3-4 MiB of resident memory that a
 *   server process keeps for its whole life (measured with Deno 2.9 on Linux), only to turn one
 *   path into a URL at boot.
 */

/** Resolves `path` against `cwd` and returns its `file:` URL (see the module comment). */
export async function moduleFileUrl(cwd: string, path: string): Promise<URL> {
  if (Deno.build.os === "windows") {
    const [{ resolve }, { pathToFileURL }] = await Promise.all([
      import("node:path"),
      import("node:url"),
    ]);
    return pathToFileURL(resolve(cwd, path));
  }
  const url = new URL("file:///");
  url.pathname = encodePathChars(resolvePosix(cwd, path));
  return url;
}

/** The local path of a `file:` URL (see the module comment). Throws a `TypeError`. */
export async function fileUrlPath(url: URL): Promise<string> {
  if (Deno.build.os === "windows") {
    const { fileURLToPath } = await import("node:url");
    return fileURLToPath(url);
  }
  if (url.protocol !== "file:") throw new TypeError(`not a file: URL: ${url.href}`);
  if (url.hostname !== "") throw new TypeError(`file: URL with a host: ${url.href}`);
  const path = url.pathname;
  if (/%2f/i.test(path)) throw new TypeError(`file: URL with an encoded "/": ${url.href}`);
  return decodeURIComponent(path);
}

/** `path` against `cwd`, absolute and normalised, as `node:path`'s POSIX `resolve`. */
export function resolvePosix(cwd: string, path: string): string {
  const out: string[] = [];
  const whole = path.startsWith("/") ? path : `${cwd}/${path}`;
  for (const seg of whole.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}

/**
 * Escapes what the URL `pathname` setter would misread ("%" as an escape, "\\" as a separator,
 * tabs and newlines dropped) and what Node encodes beyond it ("[", "]", "^", "|", "~"); the setter
 * encodes the rest (space, "#", "?", quotes, control characters, non-ASCII).
 */
function encodePathChars(path: string): string {
  return path.replace(
    /[%\\\t\n\r[\]^|~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}
