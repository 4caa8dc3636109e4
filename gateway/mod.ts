/**
 * The public surface for app authors: the gateway types (the spec in `types.ts`), the errors an
 * app may see or throw, and the byte-string helpers for CGI values.
 *
 * Contract: apps import from this module only (`import type` for the types); nothing here pulls
 * in server code.
 */
export type {
  App,
  Environ,
  ErrorStream,
  Input,
  ResponseBody,
  StartResponse,
  Write,
} from "./types.ts";
export { AppContractError, AppError, AppLoadError } from "./errors.ts";
export type { AppLoadErrorKind } from "./errors.ts";
export { decodeByteString, encodeByteString } from "./environ.ts";
