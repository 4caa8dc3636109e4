/**
 * Returns the request's environ as JSON (like waitress's `fixtureapps/echo.py`).
 *
 * Contract: the body is a JSON object with the environ's keys in sorted order; values that are
 * strings, numbers, booleans or arrays of those are kept, every other value (the input and error
 * streams, the abort signal) is left out. `Content-Type: application/json`.
 */
import type { App, Environ } from "../gateway/mod.ts";

const encoder = new TextEncoder();

/** Returns the serialisable part of `environ`, keys sorted. */
export function serialisableEnviron(environ: Environ): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(environ).sort()) {
    const value = environ[key];
    if (isPlain(value) || (Array.isArray(value) && value.every(isPlain))) out[key] = value;
  }
  return out;
}

function isPlain(value: unknown): boolean {
  const t = typeof value;
  return t === "string" || t === "number" || t === "boolean";
}

/** Answers with the environ as JSON. */
export const app: App = function environApp(environ, startResponse) {
  const body = encoder.encode(JSON.stringify(serialisableEnviron(environ), null, 2) + "\n");
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [body];
};

export default app;
