/**
 * Young-generation GC checks against a running lsbaws: drive it with wrk and read back what V8's
 * `--trace-gc-nvp` lines (the server started with `DENO_V8_FLAGS=--trace-gc-nvp`) say survived
 * each scavenge.
 *
 * Contract: `HAS_WRK` tells whether wrk is installed (a test that needs it skips and says why);
 * `runWrk(args)` runs wrk to completion and returns its stdout, failing the test if wrk fails;
 * `scavengeSurvivors(lines)` returns `new_space_survived` of every scavenge in the server's
 * output, sorted ascending.
 */
import assert from "node:assert/strict";

/** Whether wrk can be run here. */
export const HAS_WRK: boolean = (() => {
  try {
    return new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().code !== 127;
  } catch {
    return false;
  }
})();

/** Runs wrk with `args`; its stdout. */
export async function runWrk(args: string[]): Promise<string> {
  const out = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(out.success, `wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Bytes that survived each scavenge, ascending, from `--trace-gc-nvp` output lines. */
export function scavengeSurvivors(lines: readonly string[]): number[] {
  return lines.flatMap((line) => {
    const m = /"gc":"s".*"new_space_survived":(\d+)/.exec(line);
    return m ? [Number(m[1])] : [];
  }).sort((a, b) => a - b);
}
