/**
 * Test support for the metrics tests: parses Prometheus exposition text into samples, and runs
 * `promtool check metrics` (the Prometheus project's own parser and linter) on it.
 */

/** Parses exposition text into `name{labels}` → value (HELP and TYPE lines skipped). */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Path of `promtool`, or null when it is not installed. */
export function findPromtool(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/promtool`).isFile) return `${dir}/promtool`;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Runs `promtool check metrics` on `text`; returns its output (empty when it is clean) or null
 * when promtool is not installed (the caller prints why it skips that check).
 */
export async function promtoolCheck(text: string): Promise<{ ok: boolean; out: string } | null> {
  const promtool = findPromtool();
  if (promtool === null) return null;
  const child = new Deno.Command(promtool, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const res = await child.output();
  const dec = new TextDecoder();
  return { ok: res.success, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}
