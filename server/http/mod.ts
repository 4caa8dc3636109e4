/**
 * The sans-IO HTTP/1.1 surface: parsing, framing, chunked decoding and response encoding.
 *
 * Contract: everything re-exported here is synchronous, allocation-conscious and free of I/O.
 */
export * from "./bytes.ts";
export * from "./errors.ts";
export * from "./status.ts";
export * from "./receive_buffer.ts";
export * from "./request_head.ts";
export * from "./framing.ts";
export * from "./chunked.ts";
export * from "./response_head.ts";
export * from "./http_date.ts";
