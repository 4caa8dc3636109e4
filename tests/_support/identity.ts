/**
 * Test support for the `--user` / `--initgroups` process tests: the system's `nobody`, why
 * such a test cannot run here, and a process's ids as /proc shows them.
 */
import assert from "node:assert/strict";
import { parseGroup, parsePasswd } from "../../server/process/identity.ts";

/** The system's `nobody` and the name of its primary group, or null. */
export function systemNobody(): { uid: number; gid: number; group: string } | null {
  try {
    const entry = parsePasswd(Deno.readTextFileSync("/etc/passwd")).find((e) =>
      e.name === "nobody"
    );
    if (!entry) return null;
    const group = parseGroup(Deno.readTextFileSync("/etc/group")).find((g) => g.gid === entry.gid);
    return { uid: entry.uid, gid: entry.gid, group: group?.name ?? String(entry.gid) };
  } catch {
    return null;
  }
}

/**
 * Why a test that starts workers as another user cannot run here (not Linux, not root, no
 * `nobody`), or null; the reason is written to stderr under `file`'s name.
 */
export function identitySkip(
  file: string,
  nobody: ReturnType<typeof systemNobody>,
): string | null {
  const skip = Deno.build.os !== "linux"
    ? "not Linux"
    : Deno.uid() !== 0
    ? `not root (uid ${Deno.uid()}): only root can start workers as another user`
    : nobody === null
    ? "this system has no 'nobody' user"
    : null;
  if (skip) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`${file}: the process tests are skipped: ${skip}\n`),
    );
  }
  return skip;
}

/**
 * `Uid:`, `Gid:` (real, asserted equal to effective) and `Groups:` (sorted) of a process, from
 * /proc.
 */
export function idsOf(pid: number): { uid: number; gid: number; groups: number[] } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(status)![1];
  const [ruid, euid] = field("Uid").split(/\s+/).map(Number);
  const [rgid, egid] = field("Gid").split(/\s+/).map(Number);
  assert.equal(ruid, euid);
  assert.equal(rgid, egid);
  const groups = field("Groups").trim().split(/\s+/).filter((g) => g !== "").map(Number);
  return { uid: ruid, gid: rgid, groups: groups.sort((a, b) => a - b) };
}
