// A fake Gemini API (generativelanguage v1beta) on 127.0.0.1: generateContent, streamGenerateContent
// (SSE with alt=sse, "\r\n\r\n"-separated frames and no terminator; a JSON array without it),
// batchEmbedContents, embedContent and models. It requires x-goog-api-key (or ?key=), validates
// requests like the real API (gemini_validate.ts) and answers errors as {"error":{code,message,status}}.
// Tests script each answer as a list of GenerateContentResponse chunks (the whole response is their
// merge) and can inject faults: error statuses, delays, bytes split anywhere, mid-stream errors,
// resets and truncation.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GeminiRejection, validateBatchEmbed, validateGenerate } from './gemini_validate.ts';

export type GeminiChunk = Record<string, unknown>;

export interface GeminiFault {
  /** answer with this HTTP status and a Google error body */
  status?: number;
  message?: string;
  delayMs?: number;
  chunkDelayMs?: number;
  /** write the streamed bytes in pieces of this size (frames split mid-JSON, mid-CRLF) */
  splitBytes?: number;
  /** send an error event after this many chunks */
  errorAfterChunks?: number;
  /** destroy the socket after this many chunks */
  resetAfterChunks?: number;
  /** end the stream cleanly after this many chunks (no finishReason reached the client) */
  truncateAfterChunks?: number;
}

export interface GeminiScript {
  chunks?: GeminiChunk[];
  fault?: GeminiFault;
}

export interface GeminiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
}

export interface FakeGemini {
  /** base URL including /v1beta, as a provider's baseUrl */
  url: string;
  port: number;
  requests: GeminiRequest[];
  script(fn: (req: GeminiRequest, n: number) => GeminiScript): void;
  close(): Promise<void>;
}

const RPC: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

function sendError(res: ServerResponse, e: GeminiRejection): void {
  res.writeHead(e.status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code: e.status, message: e.message, status: e.rpc } }, null, 2));
}

/** A plain text answer as stream chunks, usage only on the last one (as Gemini often does). */
export function textChunks(words: string[], promptTokens = 7, finishReason = 'STOP'): GeminiChunk[] {
  return words.map((w, i) => {
    const last = i === words.length - 1;
    const candidate: Record<string, unknown> = { content: { role: 'model', parts: [{ text: w }] }, index: 0 };
    if (last) candidate.finishReason = finishReason;
    const chunk: GeminiChunk = {
      candidates: [candidate],
      modelVersion: 'gemini-2.5-flash',
      responseId: 'resp-fake-1',
    };
    if (last)
      chunk.usageMetadata = {
        promptTokenCount: promptTokens,
        candidatesTokenCount: words.length,
        totalTokenCount: promptTokens + words.length,
      };
    return chunk;
  });
}

/**
 * `count` candidates (generationConfig.candidateCount) as stream chunks: each candidate is named by
 * its `index`, and the chunks interleave them one candidate per chunk, so a client that took a
 * candidate's position in the array for its index would mix them up; each candidate's text starts
 * with `[index]`. Usage on the last chunk counts every candidate's tokens, as Gemini's
 * candidatesTokenCount does.
 */
export function candidateChunks(words: string[], count: number, promptTokens = 7): GeminiChunk[] {
  const chunks: GeminiChunk[] = [];
  words.forEach((w, i) => {
    for (let index = 0; index < count; index++) {
      const text = i === 0 ? `[${index}] ${w}` : w;
      const candidate: Record<string, unknown> = { content: { role: 'model', parts: [{ text }] }, index };
      if (i === words.length - 1) candidate.finishReason = 'STOP';
      chunks.push({ candidates: [candidate], modelVersion: 'gemini-2.5-flash', responseId: 'resp-fake-n' });
    }
  });
  const output = words.length * count;
  (chunks.at(-1) as GeminiChunk).usageMetadata = {
    promptTokenCount: promptTokens,
    candidatesTokenCount: output,
    totalTokenCount: promptTokens + output,
  };
  return chunks;
}

/** The non-streaming response: parts of each candidate merged (adjacent text joined), last finish and usage. */
export function mergeChunks(chunks: GeminiChunk[]): GeminiChunk {
  const byIndex = new Map<number, { parts: Array<Record<string, unknown>>; finishReason?: unknown }>();
  const out: GeminiChunk = {};
  for (const c of chunks) {
    for (const cand of (c.candidates as Array<Record<string, unknown>> | undefined) ?? []) {
      const idx = (cand.index as number | undefined) ?? 0;
      const slot = byIndex.get(idx) ?? { parts: [] };
      byIndex.set(idx, slot);
      for (const p of (cand.content as { parts?: Array<Record<string, unknown>> } | undefined)?.parts ?? []) {
        const last = slot.parts.at(-1);
        if (
          typeof p.text === 'string' &&
          last &&
          typeof last.text === 'string' &&
          !p.thought &&
          !last.thought
        )
          last.text += p.text;
        else slot.parts.push({ ...p });
      }
      if (cand.finishReason) slot.finishReason = cand.finishReason;
    }
    for (const k of ['usageMetadata', 'modelVersion', 'responseId', 'promptFeedback'])
      if (c[k] !== undefined) out[k] = c[k];
  }
  out.candidates = [...byIndex.entries()].map(([index, s]) => ({
    content: { role: 'model', parts: s.parts },
    finishReason: s.finishReason,
    index,
  }));
  if (byIndex.size === 0 && out.promptFeedback) delete out.candidates;
  return out;
}

/** A deterministic vector per text, so tests can compare what came back. */
export function fakeVector(text: string, dims: number): number[] {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 16777619);
  return Array.from({ length: dims }, (_, i) => Math.round(Math.sin(h + i) * 1e4) / 1e4);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

async function writePieces(res: ServerResponse, data: string, split: number | undefined): Promise<void> {
  if (!split) {
    res.write(data);
    return;
  }
  const buf = Buffer.from(data);
  for (let i = 0; i < buf.length; i += split) {
    res.write(buf.subarray(i, i + split));
    await sleep(1);
  }
}

async function stream(
  res: ServerResponse,
  chunks: GeminiChunk[],
  f: GeminiFault,
  sse: boolean,
): Promise<void> {
  res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8' });
  if (!sse) res.write('[');
  for (let i = 0; i < chunks.length; i++) {
    if (f.resetAfterChunks === i) {
      res.socket?.destroy();
      return;
    }
    if (f.truncateAfterChunks === i) break;
    if (f.errorAfterChunks === i) {
      const err = { error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' } };
      await writePieces(
        res,
        sse ? `data: ${JSON.stringify(err)}\r\n\r\n` : JSON.stringify(err),
        f.splitBytes,
      );
      break;
    }
    const json = JSON.stringify(chunks[i]);
    await writePieces(res, sse ? `data: ${json}\r\n\r\n` : `${i > 0 ? ',\r\n' : ''}${json}`, f.splitBytes);
    if (f.chunkDelayMs) await sleep(f.chunkDelayMs);
  }
  if (!sse) res.write(']');
  res.end();
}

function defaultScript(req: GeminiRequest): GeminiScript {
  const contents = (req.body?.contents as Array<{ parts?: Array<{ text?: string }> }> | undefined) ?? [];
  const last =
    contents
      .at(-1)
      ?.parts?.map((p) => p.text ?? '')
      .join('') ?? '';
  const promptTokens = Math.max(1, Math.ceil(JSON.stringify(contents).length / 16));
  const words = ['Hello', ' from', ' Gemini', `: ${last.slice(0, 20)}`];
  // as many candidates as asked (Gemini's default is 1; the validator bounds it to 1..8)
  const asked = (req.body?.generationConfig as { candidateCount?: number } | undefined)?.candidateCount;
  if (asked !== undefined && asked > 1) return { chunks: candidateChunks(words, asked, promptTokens) };
  return { chunks: textChunks(words, promptTokens) };
}

export async function startFakeGemini(opts: { apiKey: string }): Promise<FakeGemini> {
  const requests: GeminiRequest[] = [];
  let scriptFn: (req: GeminiRequest, n: number) => GeminiScript = defaultScript;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readBody(req);
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      return sendError(res, {
        status: 400,
        rpc: 'INVALID_ARGUMENT',
        message: `Invalid JSON payload received. Unexpected token.`,
      });
    }
    const rec: GeminiRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    requests.push(rec);
    const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
    if (key === undefined || key === null)
      return sendError(res, {
        status: 403,
        rpc: 'PERMISSION_DENIED',
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      });
    if (key !== opts.apiKey)
      return sendError(res, {
        status: 400,
        rpc: 'INVALID_ARGUMENT',
        message: 'API key not valid. Please pass a valid API key.',
      });
    if (req.method === 'GET' && url.pathname === '/v1beta/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ models: [{ name: 'models/gemini-2.5-flash' }] }));
    }
    const m =
      /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents|embedContent)$/.exec(
        url.pathname,
      );
    if (!m || req.method !== 'POST')
      return sendError(res, {
        status: 404,
        rpc: 'NOT_FOUND',
        message: `Method not found: ${req.method} ${url.pathname}`,
      });
    const model = decodeURIComponent(m[1] as string);
    const method = m[2] as string;
    if (!body)
      return sendError(res, { status: 400, rpc: 'INVALID_ARGUMENT', message: 'Request body is empty.' });
    const script = scriptFn(rec, requests.length - 1);
    const f = script.fault ?? {};
    if (f.delayMs) await sleep(f.delayMs);
    if (f.status)
      return sendError(res, {
        status: f.status,
        rpc: RPC[f.status] ?? 'UNKNOWN',
        message: f.message ?? 'injected fault',
      });

    if (method === 'batchEmbedContents' || method === 'embedContent') {
      const single = method === 'embedContent';
      const problem = single ? undefined : validateBatchEmbed(body, model);
      if (problem) return sendError(res, problem);
      const reqs = (single ? [body] : body.requests) as Array<{
        content: { parts: Array<{ text: string }> };
        outputDimensionality?: number;
      }>;
      const embeddings = reqs.map((r) => ({
        values: fakeVector(r.content.parts.map((p) => p.text).join(''), r.outputDimensionality ?? 8),
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(single ? { embedding: embeddings[0] } : { embeddings }));
    }
    const problem = validateGenerate(body);
    if (problem) return sendError(res, problem);
    const chunks = script.chunks ?? defaultScript(rec).chunks ?? [];
    if (method === 'generateContent') {
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      return res.end(JSON.stringify(mergeChunks(chunks)));
    }
    await stream(res, chunks, f, url.searchParams.get('alt') === 'sse');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, { status: 500, rpc: 'INTERNAL', message: String(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1beta`,
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
