/** Types for `payload.mjs` (the response contract shared by every benchmark app). */

/** The hello-world body, byte for byte. */
export declare const HELLO_BODY: string;

/** The Content-Type every benchmark response carries. */
export declare const CONTENT_TYPE: string;
