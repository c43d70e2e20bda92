// The one workload every target is measured with: the request bodies the load generators send and the
// exact answer the mock upstream gives, so correctness can be checked byte for byte through any gateway.

/** Model name sent by the client; an OpenAI family name so Sluice counts with its real BPE (o200k_base). */
export const MODEL = 'gpt-4o-mini';

/** Key the mock upstream demands (a real API rejects calls without one); gateways must forward theirs. */
export const UPSTREAM_KEY = 'sk-bench-upstream-0123456789';

/** The 20 streamed content pieces; multibyte on purpose so a gateway that splits UTF-8 badly fails. */
export const PIECES: readonly string[] = [
  'Sluice',
  ' streams',
  ' every',
  ' token',
  ' straight',
  ' through',
  ',',
  ' counts',
  ' usage',
  ' exactly',
  ' and',
  ' adds',
  ' almost',
  ' nothing',
  ' —',
  ' héllo',
  ' 世界',
  ' done',
  '.',
  ' ✓',
];

export const CONTENT = PIECES.join('');

/** Usage the mock reports; the verifier expects exactly these numbers back through every gateway. */
export const USAGE = {
  prompt_tokens: 31,
  completion_tokens: PIECES.length,
  total_tokens: 31 + PIECES.length,
};

export const MESSAGES = [
  { role: 'system', content: 'You are a terse assistant. Answer in one sentence.' },
  { role: 'user', content: 'Describe what an AI gateway adds to every request, and what it should not add.' },
];

export function requestBody(stream: boolean): string {
  const body: Record<string, unknown> = { model: MODEL, messages: MESSAGES, max_tokens: 64 };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return JSON.stringify(body);
}

/**
 * Cheap per-response validity check used under load (the full check runs before timing, in verify.ts):
 * a Lua pattern every valid response matches, whatever JSON spacing the gateway re-serialises with.
 * Both modes must carry the usage; streams must also end with [DONE], whole answers finish with "stop".
 */
export function luaValidPatterns(stream: boolean): string[] {
  const usage = `"completion_tokens"%s*:%s*${USAGE.completion_tokens}[,}%s]`;
  return stream ? [usage, 'data: %[DONE%]%s*$'] : [usage, '"finish_reason"%s*:%s*"stop"'];
}
