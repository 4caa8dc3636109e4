/**
 * The public surface for app authors: the gateway types (the spec in `types.ts`), the errors an
 * app may see or throw, the byte-string helpers for CGI values, the adapters between the two
 * calling conventions (`toFetchHandler`, `fromFetchHandler`), the contract validator
 * (`validateApp`) and `fileResponse` (a fetch Response sent zero-copy from an open file).
 *
 * Contract: apps import from this module only; nothing here pulls in server I/O code (the
 * adapters use only the pure `server/http/` helpers and the gateway runner).
 */
export type {
  App,
  Environ,
  ErrorStream,
  FileWrapperBody,
  FileWrapperFactory,
  Input,
  ResponseBody,
  StartResponse,
  Write,
} from "./types.ts";
export { AppContractError, AppError, AppLoadError } from "./errors.ts";
export type { AppLoadErrorKind } from "./errors.ts";
export { decodeByteString, encodeByteString } from "./environ.ts";
export { fromFetchHandler, toFetchHandler } from "./adapters.ts";
export type {
  AdaptedFetchHandler,
  AdapterInfo,
  FetchApp,
  ToFetchHandlerOptions,
} from "./adapters.ts";
export type { FetchHandler, ServeHandlerInfo } from "./fetch.ts";
export { validateApp } from "./validate.ts";
export { fileResponse } from "./file_wrapper.ts";
export type { ValidateOptions } from "./validate.ts";
