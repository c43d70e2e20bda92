// A fake Amazon Bedrock runtime on 127.0.0.1: POST /model/{modelId}/converse (JSON) and
// /model/{modelId}/converse-stream (application/vnd.amazon.eventstream). Every request's SigV4
// signature is verified with the configured secret (sigv4_verify.ts; a bad one is a 403 with
// x-amzn-errortype), bodies are validated like the real API (bedrock_validate.ts), and errors are
// {"message"} with the x-amzn-errortype header. Stream frames are encoded here by hand (prelude, string
// headers, payload, CRC32s via node:zlib) so the gateway's decoder is checked against an independent
// encoder. Tests script each answer as ConverseStream events (the JSON answer is their merge) and can
// inject faults: statuses, exception events, corrupt CRCs, resets, truncation, bytes split anywhere.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { validateConverse } from './bedrock_validate.ts';
import { type SigV4Keys, verifySigV4 } from './sigv4_verify.ts';

export interface BedrockEvent {
  type:
    | 'messageStart'
    | 'contentBlockStart'
    | 'contentBlockDelta'
    | 'contentBlockStop'
    | 'messageStop'
    | 'metadata';
  payload: Record<string, unknown>;
}

export interface BedrockFault {
  status?: number;
  errorType?: string;
  message?: string;
  delayMs?: number;
  chunkDelayMs?: number;
  splitBytes?: number;
  /** send an exception message (:message-type exception) after this many events */
  exceptionAfterEvents?: number;
  exceptionType?: string;
  /** flip a byte of the message CRC of this event */
  corruptCrcAtEvent?: number;
  resetAfterEvents?: number;
  truncateAfterEvents?: number;
}

export interface BedrockScript {
  events?: BedrockEvent[];
  fault?: BedrockFault;
}

export interface BedrockRequest {
  method: string;
  /** raw path as sent (percent-encoding preserved) */
  path: string;
  modelId: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
}

export interface FakeBedrock {
  url: string;
  port: number;
  requests: BedrockRequest[];
  script(fn: (req: BedrockRequest, n: number) => BedrockScript): void;
  close(): Promise<void>;
}

/** One event-stream message with string headers, encoded from the spec. */
export function encodeFrame(headers: Record<string, string>, payload: Buffer): Buffer {
  const hs = Buffer.concat(
    Object.entries(headers).map(([k, v]) => {
      const kb = Buffer.from(k);
      const vb = Buffer.from(v);
      const b = Buffer.alloc(4 + kb.length + vb.length);
      b.writeUInt8(kb.length, 0);
      kb.copy(b, 1);
      b.writeUInt8(7, 1 + kb.length); // 7 = string
      b.writeUInt16BE(vb.length, 2 + kb.length);
      vb.copy(b, 4 + kb.length);
      return b;
    }),
  );
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(12 + hs.length + payload.length + 4, 0);
  prelude.writeUInt32BE(hs.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, hs, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([body, crc]);
}

/** An event frame as Bedrock sends it, with its random-length "p" padding field. */
export function eventFrame(e: BedrockEvent): Buffer {
  const payload = Buffer.from(
    JSON.stringify({
      ...e.payload,
      p: 'abcdefghijklmnopqrstuvwxyz'.slice(0, 3 + (JSON.stringify(e.payload).length % 20)),
    }),
  );
  return encodeFrame(
    { ':event-type': e.type, ':content-type': 'application/json', ':message-type': 'event' },
    payload,
  );
}

/** A text answer as ConverseStream events: usage only in the final metadata event. */
export function textEvents(words: string[], inputTokens = 11, stopReason = 'end_turn'): BedrockEvent[] {
  return [
    { type: 'messageStart', payload: { role: 'assistant' } },
    ...words.map(
      (w): BedrockEvent => ({
        type: 'contentBlockDelta',
        payload: { contentBlockIndex: 0, delta: { text: w } },
      }),
    ),
    { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
    { type: 'messageStop', payload: { stopReason } },
    {
      type: 'metadata',
      payload: {
        usage: { inputTokens, outputTokens: words.length, totalTokens: inputTokens + words.length },
        metrics: { latencyMs: 42 },
      },
    },
  ];
}

/** The Converse JSON answer for a list of stream events. */
export function mergeEvents(events: BedrockEvent[]): Record<string, unknown> {
  const blocks = new Map<number, Record<string, unknown>>();
  const out: Record<string, unknown> = { metrics: { latencyMs: 42 } };
  for (const e of events) {
    const i = (e.payload.contentBlockIndex as number | undefined) ?? 0;
    if (e.type === 'contentBlockStart') {
      const tu = (e.payload.start as { toolUse?: Record<string, unknown> }).toolUse;
      if (tu) blocks.set(i, { toolUse: { ...tu, input: '' } });
    } else if (e.type === 'contentBlockDelta') {
      const d = e.payload.delta as { text?: string; toolUse?: { input: string } };
      const b = blocks.get(i) ?? (d.text !== undefined ? { text: '' } : {});
      if (d.text !== undefined) b.text = (b.text as string) + d.text;
      if (d.toolUse) (b.toolUse as { input: string }).input += d.toolUse.input;
      blocks.set(i, b);
    } else if (e.type === 'messageStop') out.stopReason = e.payload.stopReason;
    else if (e.type === 'metadata') out.usage = e.payload.usage;
  }
  const content = [...blocks.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, b]) => {
      const tu = b.toolUse as { input: string } | undefined;
      return tu ? { toolUse: { ...tu, input: JSON.parse(tu.input || '{}') } } : b;
    });
  out.output = { message: { role: 'assistant', content } };
  return out;
}

function sendError(res: ServerResponse, status: number, errorType: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': 'fake-request-id',
  });
  res.end(JSON.stringify({ message }));
}

async function write(res: ServerResponse, data: Buffer, split: number | undefined): Promise<void> {
  if (!split) {
    res.write(data);
    return;
  }
  for (let i = 0; i < data.length; i += split) {
    res.write(data.subarray(i, i + split));
    await sleep(1);
  }
}

async function stream(res: ServerResponse, events: BedrockEvent[], f: BedrockFault): Promise<void> {
  res.writeHead(200, {
    'content-type': 'application/vnd.amazon.eventstream',
    'x-amzn-requestid': 'fake-request-id',
  });
  for (let i = 0; i < events.length; i++) {
    if (f.resetAfterEvents === i) {
      res.socket?.destroy();
      return;
    }
    if (f.truncateAfterEvents === i) break;
    if (f.exceptionAfterEvents === i) {
      const type = f.exceptionType ?? 'throttlingException';
      const frame = encodeFrame(
        { ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' },
        Buffer.from(
          JSON.stringify({ message: f.message ?? 'Too many requests, please wait before trying again.' }),
        ),
      );
      await write(res, frame, f.splitBytes);
      break;
    }
    const frame = eventFrame(events[i] as BedrockEvent);
    if (f.corruptCrcAtEvent === i) frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 0xff;
    await write(res, frame, f.splitBytes);
    if (f.chunkDelayMs) await sleep(f.chunkDelayMs);
  }
  res.end();
}

const defaultScript = (): BedrockScript => ({ events: textEvents(['Hello', ' from', ' Bedrock']) });

export async function startFakeBedrock(keys: Omit<SigV4Keys, 'service'>): Promise<FakeBedrock> {
  const requests: BedrockRequest[] = [];
  let scriptFn: (req: BedrockRequest, n: number) => BedrockScript = defaultScript;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const raw = Buffer.concat(parts);
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0] ?? '';
    const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path);
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const rec: BedrockRequest = {
      method: req.method ?? '',
      path,
      modelId: m ? decodeURIComponent(m[1] as string) : '',
      headers: req.headers,
      body,
    };
    requests.push(rec);
    const sig = verifySigV4(req.method ?? '', rawUrl, req.headers, raw, { ...keys, service: 'bedrock' });
    if (sig) return sendError(res, sig.status, sig.errorType, sig.message);
    if (!m || req.method !== 'POST')
      return sendError(res, 404, 'UnknownOperationException', `Unknown operation ${req.method} ${path}`);
    if (!body)
      return sendError(res, 400, 'SerializationException', 'Could not parse the request body as JSON.');
    const script = scriptFn(rec, requests.length - 1);
    const f = script.fault ?? {};
    if (f.delayMs) await sleep(f.delayMs);
    if (f.status)
      return sendError(
        res,
        f.status,
        f.errorType ?? 'InternalServerException',
        f.message ?? 'injected fault',
      );
    const problem = validateConverse(body);
    if (problem) return sendError(res, 400, 'ValidationException', problem);
    const events = script.events ?? defaultScript().events ?? [];
    if (m[2] === 'converse') {
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-request-id' });
      return res.end(JSON.stringify(mergeEvents(events)));
    }
    await stream(res, events, f);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalServerException', String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    script(fn) {
      scriptFn = fn;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
