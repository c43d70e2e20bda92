// Request ids: random UUIDs (version 4) from a pool of random bytes, written into one reused buffer
// and read out as one flat string. crypto.randomUUID() builds its string from ~20 concatenated pieces
// (~0.5 KiB allocated and ~0.3 µs per request, bench/alloc.ts --profile); this allocates the id alone.
// Random, not a counter: an id a tenant sees must not tell it how many requests the replica served.
//
// The request id is always Sluice's own. A client's id (OpenAI's `X-Client-Request-Id`, or an
// `x-request-id` it sends) is kept beside it as the client request id: in the access log
// (`clientReqId`), on the trace's server span (`sluice.client_request_id`) and echoed as
// `x-client-request-id`. It was honoured as the request id itself, so a tenant could give its requests
// another tenant's ids (in logs, traces, `chatcmpl-<id>` answer ids) or the same id to thousands of
// requests, and a search by request id found another tenant's lines.
import { randomFillSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** what a client id may be: short, and nothing a log line or header needs to escape */
const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's own id for this request, if it sent a usable one (OpenAI's header first). */
export function clientRequestId(headers: IncomingHttpHeaders): string | undefined {
  const h = headers['x-client-request-id'] ?? headers['x-request-id'];
  return typeof h === 'string' && CLIENT_REQUEST_ID.test(h) ? h : undefined;
}

const IDS_PER_FILL = 256;
const pool = Buffer.allocUnsafe(16 * IDS_PER_FILL);
let nextId = IDS_PER_FILL;
const text = Buffer.from('00000000-0000-4000-8000-000000000000', 'latin1');
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** where each of the 16 bytes' two hex digits go in the 36-character form */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

export function newRequestId(): string {
  if (nextId === IDS_PER_FILL) {
    randomFillSync(pool);
    nextId = 0;
  }
  const o = nextId++ * 16;
  for (let i = 0; i < 16; i++) {
    let b = pool[o + i] as number;
    // RFC 9562: version 4 in byte 6's high nibble, variant 10xx in byte 8's top bits
    if (i === 6) b = (b & 0x0f) | 0x40;
    else if (i === 8) b = (b & 0x3f) | 0x80;
    const at = AT[i] as number;
    text[at] = HEX[b >> 4] as number;
    text[at + 1] = HEX[b & 15] as number;
  }
  return text.toString('latin1');
}
