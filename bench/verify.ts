// Correctness through a target before it is timed: a fast wrong answer is not a result.
// Checks the exact content, the usage numbers, finish_reason and (for streams) that the stream ends with
// `data: [DONE]` after exactly one usage chunk. Returns the list of problems (empty when all is right).
import { CONTENT, MODEL, requestBody, USAGE } from './workload.ts';

export interface TargetEndpoint {
  /** e.g. http://127.0.0.1:8080/v1/chat/completions */
  url: string;
  headers: Record<string, string>;
}

interface ChatCompletion {
  choices?: Array<{ message?: { content?: unknown }; finish_reason?: unknown }>;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; total_tokens?: unknown } | null;
}

interface ChatChunk {
  choices?: Array<{ delta?: { content?: unknown }; finish_reason?: unknown }>;
  usage?: ChatCompletion['usage'];
}

function checkUsage(where: string, usage: ChatCompletion['usage'], problems: string[]): void {
  if (!usage) {
    problems.push(`${where}: no usage`);
    return;
  }
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens'] as const) {
    if (usage[k] !== USAGE[k])
      problems.push(`${where}: usage.${k} is ${String(usage[k])}, expected ${USAGE[k]}`);
  }
}

async function post(target: TargetEndpoint, stream: boolean): Promise<Response> {
  return fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: requestBody(stream),
    signal: AbortSignal.timeout(15_000),
  });
}

export async function verifyWhole(target: TargetEndpoint): Promise<string[]> {
  const problems: string[] = [];
  const res = await post(target, false);
  const text = await res.text();
  if (res.status !== 200) return [`non-stream: HTTP ${res.status}: ${text.slice(0, 300)}`];
  let body: ChatCompletion;
  try {
    body = JSON.parse(text) as ChatCompletion;
  } catch {
    return [`non-stream: body is not JSON: ${text.slice(0, 200)}`];
  }
  const choice = body.choices?.[0];
  if (choice?.message?.content !== CONTENT)
    problems.push(
      `non-stream: content ${JSON.stringify(choice?.message?.content)} != ${JSON.stringify(CONTENT)}`,
    );
  if (choice?.finish_reason !== 'stop')
    problems.push(`non-stream: finish_reason ${String(choice?.finish_reason)}`);
  checkUsage('non-stream', body.usage, problems);
  return problems;
}

/** Splits an SSE body into the data payloads of its frames. */
export function sseDataFrames(text: string): string[] {
  const out: string[] = [];
  for (const frame of text.replace(/\r\n/g, '\n').split('\n\n')) {
    const data = frame
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''));
    if (data.length) out.push(data.join('\n'));
  }
  return out;
}

export async function verifyStream(target: TargetEndpoint): Promise<string[]> {
  const problems: string[] = [];
  const res = await post(target, true);
  const text = await res.text();
  if (res.status !== 200) return [`stream: HTTP ${res.status}: ${text.slice(0, 300)}`];
  const ctype = res.headers.get('content-type') ?? '';
  if (!ctype.startsWith('text/event-stream')) problems.push(`stream: content-type ${ctype}`);
  const frames = sseDataFrames(text);
  if (frames.at(-1) !== '[DONE]')
    problems.push(`stream: last frame is ${JSON.stringify(frames.at(-1))}, not [DONE]`);
  if (frames.filter((f) => f === '[DONE]').length !== 1)
    problems.push('stream: [DONE] must appear exactly once');
  let content = '';
  let finishes = 0;
  let finishReason: unknown;
  const usages: ChatCompletion['usage'][] = [];
  for (const f of frames) {
    if (f === '[DONE]') continue;
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(f) as ChatChunk;
    } catch {
      problems.push(`stream: frame is not JSON: ${f.slice(0, 120)}`);
      continue;
    }
    for (const c of chunk.choices ?? []) {
      if (typeof c.delta?.content === 'string') content += c.delta.content;
      if (c.finish_reason) {
        finishes++;
        finishReason = c.finish_reason;
      }
    }
    if (chunk.usage) usages.push(chunk.usage);
  }
  if (content !== CONTENT)
    problems.push(`stream: content ${JSON.stringify(content)} != ${JSON.stringify(CONTENT)}`);
  if (finishes !== 1 || finishReason !== 'stop')
    problems.push(`stream: expected one finish_reason "stop", saw ${finishes} (${String(finishReason)})`);
  if (usages.length !== 1) problems.push(`stream: expected exactly one usage chunk, saw ${usages.length}`);
  else checkUsage('stream', usages[0], problems);
  return problems;
}

/** Both modes, `times` rounds each (a gateway that answers right only once in a while must fail too). */
export async function verifyTarget(target: TargetEndpoint, times = 3): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < times; i++) {
    problems.push(...(await verifyWhole(target)), ...(await verifyStream(target)));
    if (problems.length) break;
  }
  return problems;
}

export { MODEL };
