// Reading an upstream body into memory with a bound: an error body, or a whole (non-streaming) answer.
import { Readable } from 'node:stream';
import { ignoreError, prematureClose } from './body_errors.ts';
import type { ChunkCharge } from './intake.ts';
import type { UpstreamResponse } from './transport.ts';
import { UpstreamBody } from './upstream_body.ts';

/**
 * The body's bytes; a result longer than `limit` means the body was cut there (and its stream
 * destroyed), so the caller can refuse it without having buffered more than `limit` + one chunk.
 * `charge` sees every chunk first (the memory budget, intake.ts answerCharge); an error it returns
 * ends the read with that error and destroys the body.
 */
export function readBounded(
  body: UpstreamResponse['body'],
  limit: number,
  charge?: ChunkCharge,
): Promise<Buffer> {
  // an HTTP upstream's body collects itself (upstream_body.ts)
  if (body instanceof UpstreamBody) return body.readAll(limit, charge);
  // a stream that already ended or failed goes the iterator's way, which reports its state at once
  if (body instanceof Readable && !body.destroyed && !body.readableEnded)
    return readStreamBounded(body, limit, charge);
  return readIterable(body, limit, charge);
}

async function readIterable(
  body: UpstreamResponse['body'],
  limit: number,
  charge: ChunkCharge | undefined,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const refused = charge?.(chunk);
    if (refused) {
      body.destroy(refused);
      throw refused;
    }
    size += chunk.length;
    parts.push(chunk);
    if (size > limit) {
      // stop reading: the caller sees a result longer than `limit` and knows it was cut
      body.destroy();
      break;
    }
  }
  return Buffer.concat(parts);
}

/**
 * readBounded for a Node stream (the in-process mock's and warm-up's bodies) through its events: an async iterator costs a promise
 * and an iterator result per chunk, ~3 µs of a whole answer in the bench profile. Same outcomes: the
 * bytes (more than `limit` means cut), or the stream's error, or a premature-close error.
 */
function readStreamBounded(body: Readable, limit: number, charge: ChunkCharge | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      const refused = charge?.(chunk);
      if (refused) {
        done();
        body.on('error', ignoreError);
        body.destroy(refused);
        reject(refused);
        return;
      }
      size += chunk.length;
      parts.push(chunk);
      if (size > limit) {
        done();
        // undici reports destroy() before the end as an AbortError 'error' event: expected, ours
        body.on('error', ignoreError);
        body.destroy();
        resolve(Buffer.concat(parts));
      }
    };
    const onEnd = () => {
      done();
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(prematureClose());
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}
