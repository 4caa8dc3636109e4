/**
 * Status codes and reason phrases (RFC 9110 §15), plus `statusAllowsBody`.
 *
 * Contract: pure data and pure functions; no I/O, no imports.
 */

/** Reason phrases for the status codes lsbaws knows by name. */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: "Continue",
  101: "Switching Protocols",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
});

/** Whether a response with this status to this method may carry content (RFC 9110 §6.4.1). */
export function statusAllowsBody(status: number, method: string): boolean {
  if (method === "HEAD") return false;
  if (status < 200 || status === 204 || status === 304) return false;
  return true;
}

/** Whether a response with this status may carry Content-Length (RFC 9110 §8.6: not 1xx/204). */
export function statusAllowsContentLength(status: number): boolean {
  return status >= 200 && status !== 204;
}
