/**
 * File name patterns for `--reload-include` and `--reload-exclude` (uvicorn's), on paths
 * relative to a watched directory, `/`-separated.
 *
 * Contract (pure):
 * - `globToRegExp(pattern)`: `*` is any run of characters but `/`, `**` any run including `/`
 *   (`**` followed by `/` also matches no directory at all), `?` one character but `/`, `[abc]`,
 *   `[a-z]` and `[!a]` one character of (or not of) the set; anything else is itself. An
 *   unclosed `[` or an empty pattern throws `Error` naming the pattern (`main.ts` checks the
 *   settings' patterns with it at start: a usage error; this module is loaded only then and by
 *   the reloader).
 * - `pathFilter(include, exclude)` is whether a changed file counts. A pattern with a `/` is
 *   matched against the whole relative path; one without is matched against the file's name
 *   (include) or against any one of the path's parts, directories included (exclude: `tmp`
 *   excludes everything under a `tmp` directory). A file counts when no exclude pattern matches
 *   and, if include patterns were given, one of them matches.
 */

/** The regular expression `pattern` stands for; see the module comment. */
export function globToRegExp(pattern: string): RegExp {
  if (pattern === "") throw new Error("an empty pattern matches nothing");
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) throw new Error(`pattern '${pattern}': '[' is not closed`);
      let set = pattern.slice(i + 1, end);
      const negated = set.startsWith("!");
      if (negated) set = set.slice(1);
      re += `[${negated ? "^/" : ""}${set.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else {
      re += c.replace(/[.+^${}()|\\\/]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

/** Whether a changed file (its path relative to the watched directory) counts; see above. */
export function pathFilter(
  include: readonly string[],
  exclude: readonly string[],
): (relative: string) => boolean {
  const inc = include.map((p) => ({ re: globToRegExp(p), whole: p.includes("/") }));
  const exc = exclude.map((p) => ({ re: globToRegExp(p), whole: p.includes("/") }));
  return (relative) => {
    const path = relative.replaceAll("\\", "/");
    const parts = path.split("/");
    const name = parts.at(-1) ?? "";
    for (const e of exc) {
      if (e.whole ? e.re.test(path) : parts.some((part) => e.re.test(part))) return false;
    }
    return inc.length === 0 || inc.some((i) => i.re.test(i.whole ? path : name));
  };
}
