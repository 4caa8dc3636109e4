/**
 * The `--reload` rows of the settings table (`server/settings.ts` spreads them at the end of the
 * `workers` group; `server/process/reload.ts` implements them).
 *
 * Contract: data only, in the row format of `server/setting_types.ts`; no I/O.
 */
import type { Setting } from "./setting_types.ts";

/** `--reload` and `--reload-dir`, with their literal types. */
export const RELOAD_SETTING_ROWS = [
  {
    key: "reload",
    flag: "reload",
    type: "bool",
    default: false,
    doc: "Development: replace the workers when the app or a local module it imports changes.",
    group: "workers",
  },
  {
    key: "reloadDir",
    flag: "reload-dir",
    type: "string",
    repeat: true,
    default: [],
    doc: "With --reload, also watch this directory recursively (repeatable).",
    group: "workers",
  },
] as const satisfies readonly Setting[];
