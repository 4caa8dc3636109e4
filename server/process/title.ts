/**
 * Process titles, as gunicorn's `setproctitle` gives them: a supervisor shows as
 * `lsbaws: master [NAME]` and each worker as `lsbaws: worker [NAME]` in `ps`, `top` and
 * `/proc/PID/cmdline`, where every lsbaws process otherwise shows the same `deno run ... main.ts`
 * command line. NAME is `--name`, or the app spec.
 *
 * Contract:
 * - `processTitle(role, name)` is the title's text.
 * - `setProcessTitle(title)` (Linux) writes the title over the process's original argument area
 *   (`arg_start`..`arg_end` from `/proc/self/stat`), cut to fit and padded with NUL bytes so the
 *   area keeps its NUL terminator, and sets the main thread's name (`/proc/self/comm`, 15 bytes:
 *   `lsbaws master` / `lsbaws worker`). It never writes past the area: the environment that
 *   follows it stays intact, so `getenv` keeps working. Returns null, or why nothing was done
 *   (not Linux, no FFI permission, an unreadable `/proc`).
 * - What the area held before is gone: lsbaws reads its arguments once, at start, and hands its
 *   workers a copy (`Deno.args`), so nothing reads the original area afterwards.
 * - Imported only by a supervisor and its workers (`main.ts`): a single process keeps its
 *   command line, which already says what it runs.
 */

/** Which process of a server the title names. */
export type TitleRole = "master" | "worker";

/** The title gunicorn users know: `lsbaws: master [NAME]`. */
export function processTitle(role: TitleRole, name: string): string {
  return `lsbaws: ${role} [${name}]`;
}

/** Field index, counted from `state` (field 3), of `arg_start` (field 48) in `/proc/PID/stat`. */
const ARG_START = 48 - 3;

/**
 * `arg_start` and `arg_end` out of a `/proc/PID/stat` line. The command name in parentheses may
 * hold spaces and parentheses, so fields are counted from its last `)`.
 */
export function argumentArea(stat: string): { start: bigint; end: bigint } | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  const fields = stat.slice(close + 2).trim().split(" ");
  const start = fields[ARG_START];
  const end = fields[ARG_START + 1];
  if (start === undefined || end === undefined || !/^\d+$/.test(start) || !/^\d+$/.test(end)) {
    return null;
  }
  const area = { start: BigInt(start), end: BigInt(end) };
  return area.start > 0n && area.end > area.start ? area : null;
}

/**
 * `title` as UTF-8 in exactly `size` bytes: cut (at a character boundary) to leave at least one
 * NUL byte at the end, the rest NUL.
 */
export function titleBytes(title: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  if (size === 0) return out;
  const { written } = new TextEncoder().encodeInto(title, out.subarray(0, size - 1));
  out.fill(0, written);
  return out;
}

/** Sets the process title (see the module's contract); null, or why it was not set. */
export function setProcessTitle(role: TitleRole, name: string): string | null {
  if (Deno.build.os !== "linux") return `process titles need Linux (this is ${Deno.build.os})`;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "process titles need FFI permission (-A or --allow-ffi)";
  }
  let area;
  try {
    area = argumentArea(Deno.readTextFileSync("/proc/self/stat"));
  } catch (err) {
    return `cannot read /proc/self/stat: ${(err as Error).message}`;
  }
  if (area === null) return "/proc/self/stat has no argument area";
  const size = Number(area.end - area.start);
  const pointer = Deno.UnsafePointer.create(area.start);
  if (pointer === null) return "the argument area is at address 0";
  try {
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, size)).set(
      titleBytes(processTitle(role, name), size),
    );
  } catch (err) {
    return `cannot write the argument area: ${(err as Error).message}`;
  }
  try {
    Deno.writeTextFileSync("/proc/self/comm", `lsbaws ${role}`);
  } catch (err) {
    return `the command line shows the title, but /proc/self/comm: ${(err as Error).message}`;
  }
  return null;
}
