import type { Plugin } from 'graphql-yoga';
import { LengthRequiredError, PayloadTooLargeError, type CustodianError } from '../../errors.js';

function refusal(Response: typeof globalThis.Response, error: CustodianError, status: number): Response {
  return new Response(JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code, ...error.extensions, http: undefined } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/**
 * Refuses a request body over `maxBytes` before anything reads it (413 PAYLOAD_TOO_LARGE), and a
 * body without a Content-Length (411 LENGTH_REQUIRED): the HTTP parser then holds the body to
 * the declared length, so the check cannot be outrun by a chunked stream.
 */
export function useBodyLimit(options: { maxBytes: number }): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
      const declared = request.headers.get('content-length');
      if (declared === null) {
        // Only a request that says it has a body must say how long it is.
        if (request.headers.get('transfer-encoding') === null) return;
        endResponse(refusal(fetchAPI.Response, new LengthRequiredError(), 411));
        return;
      }
      const length = Number(declared);
      if (!Number.isSafeInteger(length) || length < 0 || length > options.maxBytes) {
        endResponse(refusal(fetchAPI.Response, new PayloadTooLargeError(options.maxBytes), 413));
      }
    },
  };
}
