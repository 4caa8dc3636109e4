/**
 * `--user` / `--group`: the identity the workers run under (gunicorn's `-u` / `-g`). The
 * supervisor keeps the identity it was started with (root, typically): it binds the listening
 * sockets (a port below 1024 included), writes the pid file and the error log, and starts every
 * worker with the new user and group, which then loads the app and serves.
 *
 * Contract:
 * - `parsePasswd(text)` and `parseGroup(text)` read `/etc/passwd` and `/etc/group` lines
 *   (`name:x:uid:gid:...` and `name:x:gid:members`); blank lines, `#` comments and lines with a
 *   non-numeric id are skipped.
 * - `resolveIdentity(user, group, db)` turns the two settings into numbers. Each may be a name
 *   or a decimal id (0 to 4294967294). With only `--user`, the group is that user's primary group
 *   from the passwd database (gunicorn keeps the supervisor's own group instead, root's when run
 *   as root; lsbaws does not). A numeric user without a passwd entry needs `--group`. With only
 *   `--group`, the user stays the supervisor's (`current.uid`). Both empty: null (no change).
 *   Unknown names and bad numbers throw `IdentityError`, whose message names the setting.
 * - `identityRefusal(identity, current)` is the reason the workers cannot be started under
 *   `identity`, or null: a different user or group needs root (uid 0), and a system without user
 *   ids (Windows: `current` null) cannot do it at all.
 * - `readIdentityDb()` reads the two files; a file that cannot be read counts as empty (names
 *   then fail to resolve, numbers still work).
 * - Supplementary groups: the workers have none (the process spawner clears them when root
 *   starts a process under another user), unless `--initgroups` asks for the user's: then the
 *   worker switches itself (`server/process/privileges.ts`).
 */

/** Numeric user and group ids the workers run under, with the names they came from. */
export interface Identity {
  /** User id. */
  readonly uid: number;
  /** Group id. */
  readonly gid: number;
  /** How the user was given (name or number), for messages. */
  readonly user: string;
  /** How the group was given (name or number; the primary group's name when derived). */
  readonly group: string;
}

/** A `--user` / `--group` value that names nobody; the message says which and why. */
export class IdentityError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "IdentityError";
  }
}

/** One `/etc/passwd` entry (the fields lsbaws uses). */
export interface PasswdEntry {
  /** Login name. */
  readonly name: string;
  /** User id. */
  readonly uid: number;
  /** Primary group id. */
  readonly gid: number;
}

/** One `/etc/group` entry (the fields lsbaws uses). */
export interface GroupEntry {
  /** Group name. */
  readonly name: string;
  /** Group id. */
  readonly gid: number;
}

/** The two databases `resolveIdentity` looks names up in. */
export interface IdentityDb {
  /** `/etc/passwd` entries. */
  readonly passwd: readonly PasswdEntry[];
  /** `/etc/group` entries. */
  readonly groups: readonly GroupEntry[];
}

/** The largest id accepted: 2^32 - 2 (2^32 - 1 is `(uid_t) -1`, "no change", to the kernel). */
export const MAX_ID = 4_294_967_294;

const DECIMAL = /^[0-9]+$/;

function idOf(field: string | undefined): number | null {
  if (field === undefined || !DECIMAL.test(field)) return null;
  const n = Number(field);
  return n <= MAX_ID ? n : null;
}

function fieldsOf(text: string): string[][] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

/** Parses `/etc/passwd` text; see the module comment. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of fieldsOf(text)) {
    const uid = idOf(f[2]);
    const gid = idOf(f[3]);
    if (f[0] !== "" && uid !== null && gid !== null) out.push({ name: f[0], uid, gid });
  }
  return out;
}

/** Parses `/etc/group` text; see the module comment. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of fieldsOf(text)) {
    const gid = idOf(f[2]);
    if (f[0] !== "" && gid !== null) out.push({ name: f[0], gid });
  }
  return out;
}

/** A decimal id, or an `IdentityError` for a number out of range; null for a name. */
function numeric(value: string, flag: string): number | null {
  if (!DECIMAL.test(value)) return null;
  const id = idOf(value);
  if (id === null) throw new IdentityError(`${flag} ${value}: ids go from 0 to ${MAX_ID}`);
  return id;
}

/** Resolves `--user` / `--group` against `db`; see the module comment. */
export function resolveIdentity(
  user: string,
  group: string,
  db: IdentityDb,
  current: { readonly uid: number; readonly gid: number } | null = null,
): Identity | null {
  if (user === "" && group === "") return null;
  let uid: number | null = null;
  let primary: number | null = null;
  if (user !== "") {
    uid = numeric(user, "--user");
    const entry = uid === null
      ? db.passwd.find((e) => e.name === user)
      : db.passwd.find((e) => e.uid === uid);
    if (uid === null) {
      if (!entry) throw new IdentityError(`--user ${user}: no such user in /etc/passwd`);
      uid = entry.uid;
    }
    primary = entry?.gid ?? null;
  }
  let gid: number | null = null;
  let groupName = group;
  if (group !== "") {
    gid = numeric(group, "--group");
    if (gid === null) {
      const entry = db.groups.find((e) => e.name === group);
      if (!entry) throw new IdentityError(`--group ${group}: no such group in /etc/group`);
      gid = entry.gid;
    }
  } else if (primary !== null) {
    gid = primary;
    groupName = db.groups.find((e) => e.gid === primary)?.name ?? String(primary);
  } else {
    throw new IdentityError(
      `--user ${user}: no /etc/passwd entry to take a primary group from; give --group too`,
    );
  }
  if (uid === null) {
    if (current === null) throw new IdentityError("--group needs a system with user ids");
    uid = current.uid;
  }
  return { uid, gid, user: user === "" ? String(uid) : user, group: groupName };
}

/** Why workers cannot run as `identity` from a process running as `current`, or null. */
export function identityRefusal(
  identity: Identity,
  current: { readonly uid: number; readonly gid: number } | null,
): string | null {
  if (current === null) return "--user and --group need a system with user ids (not Windows)";
  if (current.uid === 0 || (identity.uid === current.uid && identity.gid === current.gid)) {
    return null;
  }
  return `--user/--group: only root can start workers as another user or group (this process ` +
    `runs as uid ${current.uid}, gid ${current.gid}; asked for uid ${identity.uid}, ` +
    `gid ${identity.gid})`;
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Reads `/etc/passwd` and `/etc/group`; see the module comment. */
export function readIdentityDb(): IdentityDb {
  return {
    passwd: parsePasswd(readOrEmpty("/etc/passwd")),
    groups: parseGroup(readOrEmpty("/etc/group")),
  };
}

/** This process's user and group ids, or null where the system has none (Windows). */
export function currentIds(): { uid: number; gid: number } | null {
  const uid = Deno.uid();
  const gid = Deno.gid();
  return uid === null || gid === null ? null : { uid, gid };
}
