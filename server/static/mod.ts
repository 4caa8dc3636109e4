/**
 * The static-file server's public surface, for the CLI and tests.
 *
 * Contract: `parseStaticMount("URL_PREFIX=DIR")` validates one `--static` value (throwing an
 * `Error` that names the bad part), `parseStaticMounts(values)` all of them (no prefix twice);
 * `createStaticHandler(mounts, {maxAgeSeconds})` resolves the directories and returns
 * `{match, serve}`: run `match(ex.head)` before the app and, when it is true, `await serve(ex)`
 * instead of the app. The behaviour is documented in `handler.ts`.
 */
export {
  createStaticHandler,
  type ResolvedMount,
  type StaticHandler,
  type StaticOptions,
} from "./handler.ts";
export { parseStaticMount, parseStaticMounts, type StaticMount } from "./path.ts";
