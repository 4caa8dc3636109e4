// @ts-self-types="./payload.d.mts"
/**
 * The response contract shared by every benchmark app (lsbaws gateway and fetch apps,
 * `Deno.serve`, `node:http`), so that all servers answer with the same bytes.
 *
 * Plain JavaScript so that `node_http.mjs` can import it without a TypeScript loader. Only
 * constants live here: each app builds its response per request from them.
 */

/** The hello-world body, byte for byte. */
export const HELLO_BODY = "Hello, world!\n";

/** The Content-Type every benchmark response carries. */
export const CONTENT_TYPE = "text/plain; charset=utf-8";
