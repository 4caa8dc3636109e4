/**
 * The shape of a settings row (`server/settings.ts` holds the rows; `server/config.ts` derives
 * `Config`, `DEFAULTS`, the CLI, `--help` and the README table from them).
 *
 * Contract: types only; no runtime code.
 */

/** How a setting's value is parsed from the command line. */
export type SettingType = "int" | "string" | "bool" | "enum";

/**
 * Section heading used to group `--help` output. Rows in `config` say how settings are read
 * (`--config`, `--print-config`): they are set on the command line or through `env`, never in a
 * config file.
 */
export type SettingGroup =
  | "config"
  | "listen"
  | "limits"
  | "timeouts"
  | "app"
  | "logging"
  | "workers"
  | "websocket"
  | "proxy";

/** What every row has, whatever its type. */
interface SettingBase {
  /** Field name in `Config` (camelCase, units in the name). */
  readonly key: string;
  /** Long CLI flag without the leading dashes. */
  readonly flag: string;
  /** Optional one-letter alias. */
  readonly short?: string;
  /** Other long flags accepted for this setting (e.g. names familiar from gunicorn). */
  readonly aliases?: readonly string[];
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** One line of documentation, used by `--help` and the README. */
  readonly doc: string;
  /** Section heading used to group `--help` output. */
  readonly group: SettingGroup;
  /** Part of the parser's `Limits` (handed to the sans-IO HTTP parser). */
  readonly parserLimit?: boolean;
  /** A secret: `--print-config` and the HUP change line say whether it is set, never its value. */
  readonly secret?: boolean;
}

/** A non-negative integer with inclusive bounds. */
export interface IntSetting extends SettingBase {
  /** Value type. */
  readonly type: "int";
  /** Inclusive lower bound. */
  readonly min: number;
  /** Inclusive upper bound. */
  readonly max: number;
  /** Default value (within the bounds). */
  readonly default: number;
  /** Never repeatable. */
  readonly repeat?: false;
}

/** A free-form string. */
export interface StringSetting extends SettingBase {
  /** Value type. */
  readonly type: "string";
  /** Default value. */
  readonly default: string;
  /** A single value. */
  readonly repeat?: false;
}

/** A repeatable string flag; its values are collected into a list. */
export interface ListSetting extends SettingBase {
  /** Value type of each item. */
  readonly type: "string";
  /** The flag may be repeated. */
  readonly repeat: true;
  /** Default list. */
  readonly default: readonly string[];
}

/** A boolean flag (`--flag`, `--no-flag`, `--flag=false`). */
export interface BoolSetting extends SettingBase {
  /** Value type. */
  readonly type: "bool";
  /** Default value. */
  readonly default: boolean;
  /** Never repeatable. */
  readonly repeat?: false;
}

/** One of a fixed list of strings. */
export interface EnumSetting extends SettingBase {
  /** Value type. */
  readonly type: "enum";
  /** Allowed values. */
  readonly choices: readonly string[];
  /** Default value (one of `choices`). */
  readonly default: string;
  /** Never repeatable. */
  readonly repeat?: false;
}

/** One row of the settings table. */
export type Setting = IntSetting | StringSetting | ListSetting | BoolSetting | EnumSetting;
