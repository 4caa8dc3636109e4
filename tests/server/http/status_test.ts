/**
 * status.ts: reason phrases and which responses may carry content or Content-Length.
 */
import assert from "node:assert/strict";
import {
  STATUS_TEXT,
  statusAllowsBody,
  statusAllowsContentLength,
} from "../../../server/http/status.ts";

Deno.test("STATUS_TEXT holds the RFC 9110 reason phrases lsbaws sends", () => {
  // deno-fmt-ignore
  const want: Array<[number, string]> = [
    [100, "Continue"], [200, "OK"], [204, "No Content"], [304, "Not Modified"],
    [400, "Bad Request"], [413, "Content Too Large"], [414, "URI Too Long"],
    [417, "Expectation Failed"], [431, "Request Header Fields Too Large"],
    [500, "Internal Server Error"], [501, "Not Implemented"],
    [505, "HTTP Version Not Supported"],
  ];
  for (const [status, text] of want) assert.equal(STATUS_TEXT[status], text);
});

Deno.test("statusAllowsBody refuses HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1)", () => {
  // deno-fmt-ignore
  const cases: Array<[number, string, boolean]> = [
    [200, "GET", true], [201, "POST", true], [404, "GET", true], [500, "PUT", true],
    [205, "GET", true], [200, "HEAD", false], [404, "HEAD", false], [100, "GET", false],
    [101, "GET", false], [204, "GET", false], [304, "GET", false],
  ];
  for (const [status, method, want] of cases) {
    assert.equal(statusAllowsBody(status, method), want, `${status} ${method}`);
  }
});

Deno.test("statusAllowsContentLength refuses 1xx and 204 (RFC 9110 §8.6)", () => {
  for (const s of [100, 101, 103, 199, 204]) assert.equal(statusAllowsContentLength(s), false);
  for (const s of [200, 205, 304, 404, 500]) assert.equal(statusAllowsContentLength(s), true);
});
