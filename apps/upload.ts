/**
 * Uploads with bounded memory: a multipart/form-data body is parsed as it arrives and each file
 * is streamed into a temporary file, whatever its size.
 *
 * Contract:
 * - `app` (gateway) and `handleUpload(request)` (fetch) share one implementation (`storeUpload`).
 * - `POST` with `multipart/form-data` → 200 JSON `{files: [{field, name, type, size, sha256?}],
 *   fields: {name: value}}`. Each file part goes to its own `Deno.makeTempFile()` file, written
 *   chunk by chunk (each write awaited before more of the body is read, so the upload is paced by
 *   the disk, not buffered); the file is removed once the response is built. `?sha256=1` adds the
 *   hex SHA-256 of each file (computed incrementally with `node:crypto`).
 * - Text fields are kept up to 64 KiB each (413 beyond that); a malformed body is a 400; any other
 *   method or content type → 400 with a hint. `GET /` → a small HTML upload form.
 * Run it with `lsbaws apps/upload.ts` and upload with
 * `curl -F file=@big.iso http://127.0.0.1:8000/`.
 */
import { createHash, type Hash } from "node:crypto";
import type { App } from "../gateway/mod.ts";
import { boundaryOf, dispositionOf, MultipartError, parseMultipart } from "./_multipart.ts";

/** One stored file, as reported to the client. */
export interface StoredFile {
  /** The form field name. */
  field: string;
  /** The file name the client gave. */
  name: string;
  /** The part's Content-Type (default application/octet-stream). */
  type: string;
  /** Bytes written to the temporary file. */
  size: number;
  /** Hex SHA-256 of the content, when asked for. */
  sha256?: string;
}

/** What `storeUpload` found in the body. */
export interface UploadResult {
  /** The file parts. */
  files: StoredFile[];
  /** The text fields (the last value wins for repeated names). */
  fields: Record<string, string>;
}

/** An upload that cannot be accepted; `status` is 400 or 413. */
export class UploadError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** Creates an error with its status. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "UploadError";
    this.status = status;
  }
}

const MAX_FIELD_BYTES = 64 * 1024;
const encoder = new TextEncoder();
const FORM_PAGE = encoder.encode(`<!doctype html>
<meta charset="utf-8"><title>lsbaws upload</title>
<form method="post" enctype="multipart/form-data">
  <input type="file" name="file"> <button>upload</button>
</form>
`);

/** Streams a multipart body into temporary files (see the module comment). */
export async function storeUpload(
  body: ReadableStream<Uint8Array> | null,
  contentType: string | null | undefined,
  options: { sha256?: boolean } = {},
): Promise<UploadResult> {
  const boundary = boundaryOf(contentType);
  if (boundary === null) {
    throw new UploadError(400, "expected a multipart/form-data body with a boundary");
  }
  if (body === null) throw new UploadError(400, "the request has no body");
  const result: UploadResult = { files: [], fields: {} };
  let file: Deno.FsFile | null = null;
  let path = "";
  let current: StoredFile | null = null;
  let hash: Hash | null = null;
  let field: { name: string; bytes: Uint8Array[]; size: number } | null = null;
  const closeCurrent = async () => {
    if (current !== null && file !== null) {
      file.close();
      file = null;
      if (hash !== null) current.sha256 = hash.digest("hex");
      await Deno.remove(path).catch(() => {});
      result.files.push(current);
    }
    if (field !== null) result.fields[field.name] = new TextDecoder().decode(join(field.bytes));
    current = null;
    field = null;
  };
  try {
    for await (const event of parseMultipart(body, boundary)) {
      if (event.kind === "part") {
        await closeCurrent();
        const { name = "", filename } = dispositionOf(event.headers.get("content-disposition"));
        if (filename !== undefined) {
          path = await Deno.makeTempFile({ prefix: "lsbaws-upload-" });
          file = await Deno.open(path, { write: true, truncate: true });
          hash = options.sha256 ? createHash("sha256") : null;
          current = {
            field: name,
            name: filename,
            type: event.headers.get("content-type") ?? "application/octet-stream",
            size: 0,
          };
        } else {
          field = { name, bytes: [], size: 0 };
        }
        continue;
      }
      const bytes = event.bytes;
      if (current !== null && file !== null) {
        await writeAll(file, bytes);
        hash?.update(bytes);
        current.size += bytes.length;
      } else if (field !== null) {
        field.size += bytes.length;
        if (field.size > MAX_FIELD_BYTES) throw new UploadError(413, "a text field is too large");
        field.bytes.push(bytes.slice());
      }
    }
    await closeCurrent();
  } catch (err) {
    (file as Deno.FsFile | null)?.close();
    if (path !== "") await Deno.remove(path).catch(() => {});
    if (err instanceof MultipartError) throw new UploadError(400, err.message);
    throw err;
  }
  return result;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

function join(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The upload endpoint as a fetch handler (used by apps/browser.ts). */
export async function handleUpload(request: Request): Promise<Response> {
  if (request.method !== "POST") {
    return new Response(FORM_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  const sha256 = new URL(request.url).searchParams.get("sha256") === "1";
  try {
    const result = await storeUpload(request.body, request.headers.get("content-type"), {
      sha256,
    });
    return Response.json(result);
  } catch (err) {
    if (!(err instanceof UploadError)) throw err;
    return new Response(err.message + "\n", { status: err.status });
  }
}

/** The upload endpoint as a gateway app (see the module comment). */
export const app: App = async function upload(environ, startResponse) {
  if (environ.REQUEST_METHOD !== "POST") {
    startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
    return [FORM_PAGE];
  }
  const sha256 = new URLSearchParams(environ.QUERY_STRING).get("sha256") === "1";
  let body: Uint8Array;
  try {
    const result = await storeUpload(environ["lsbaws.input"].stream, environ.CONTENT_TYPE, {
      sha256,
    });
    body = encoder.encode(JSON.stringify(result) + "\n");
  } catch (err) {
    if (!(err instanceof UploadError)) throw err;
    startResponse(`${err.status} ${err.status === 413 ? "Content Too Large" : "Bad Request"}`, [
      ["Content-Type", "text/plain; charset=utf-8"],
    ]);
    return [encoder.encode(err.message + "\n")];
  }
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [body];
};

export default app;
