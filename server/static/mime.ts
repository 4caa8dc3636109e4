/**
 * Content-Type for static files, from the file name's extension via an explicit table.
 *
 * Contract (pure, synchronous):
 * - `contentTypeOf(name)` looks at the text after the last `.` of the last path segment,
 *   lowercased, and returns the table's type; unknown or missing extensions give
 *   `application/octet-stream` (no sniffing, ever).
 * - Textual types (`text/*`, JavaScript, JSON, source maps, web manifests, SVG, XML) carry
 *   `; charset=utf-8`: static assets are assumed to be UTF-8, as nginx, Starlette and Deno assume.
 * - A precompressed sibling (`app.js.br`) is typed by the caller from the original name
 *   (`app.js`), never from `.br`/`.gz`.
 */

const UTF8 = "; charset=utf-8";

/** Extension (lowercase, without the dot) to Content-Type. */
export const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  // Text and documents.
  ["html", "text/html" + UTF8],
  ["htm", "text/html" + UTF8],
  ["css", "text/css" + UTF8],
  ["js", "text/javascript" + UTF8],
  ["mjs", "text/javascript" + UTF8],
  ["cjs", "text/javascript" + UTF8],
  ["json", "application/json" + UTF8],
  ["map", "application/json" + UTF8],
  ["webmanifest", "application/manifest+json" + UTF8],
  ["txt", "text/plain" + UTF8],
  ["md", "text/markdown" + UTF8],
  ["csv", "text/csv" + UTF8],
  ["xml", "application/xml" + UTF8],
  ["svg", "image/svg+xml" + UTF8],
  ["pdf", "application/pdf"],
  // Images.
  ["png", "image/png"],
  ["jpg", "image/jpeg"],
  ["jpeg", "image/jpeg"],
  ["gif", "image/gif"],
  ["webp", "image/webp"],
  ["avif", "image/avif"],
  ["ico", "image/x-icon"],
  ["bmp", "image/bmp"],
  // Fonts.
  ["woff", "font/woff"],
  ["woff2", "font/woff2"],
  ["ttf", "font/ttf"],
  ["otf", "font/otf"],
  // Code and media.
  ["wasm", "application/wasm"],
  ["mp4", "video/mp4"],
  ["webm", "video/webm"],
  ["mp3", "audio/mpeg"],
  ["ogg", "audio/ogg"],
  ["wav", "audio/wav"],
  ["m4a", "audio/mp4"],
  // Archives.
  ["zip", "application/zip"],
  ["gz", "application/gzip"],
  ["tar", "application/x-tar"],
  ["br", "application/octet-stream"],
]);

/** The fallback for unknown extensions. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** Content-Type for a file called `name` (a bare name or a path ending in one). */
export function contentTypeOf(name: string): string {
  const slash = name.lastIndexOf("/");
  const dot = name.lastIndexOf(".");
  if (dot <= slash + 1) return DEFAULT_CONTENT_TYPE; // no extension, or a dot-name only
  return CONTENT_TYPES.get(name.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE;
}
