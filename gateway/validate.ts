/**
 * PLACEHOLDER (being written for issue #4): the gateway contract validator.
 */
import type { App } from "./types.ts";

/** Wraps `app` in the contract validator. */
export function validateApp(_app: App): App {
  throw new Error("--validate is not implemented yet");
}
