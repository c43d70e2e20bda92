// Endpoints of the OpenAI and Anthropic APIs that Sluice does not serve, so a client that calls one
// learns that from the 404 (the feature is missing) instead of guessing at a routing mistake. Audio,
// images, files, batches, fine-tuning, assistants, vector stores, moderations: none is translated or
// routed today (docs/responses.md and README "Providers" list what is).
const NOT_SERVED: Array<[RegExp, string]> = [
  [/^\/v1\/audio\//, 'audio (speech, transcriptions, translations)'],
  [/^\/v1\/images\//, 'image generation and editing'],
  [/^\/v1\/(files|uploads)(\/|$)/, 'files and uploads'],
  [/^\/v1\/batches(\/|$)/, 'batches'],
  [/^\/v1\/fine_tuning\//, 'fine-tuning'],
  [/^\/v1\/(assistants|threads|vector_stores)(\/|$)/, 'the Assistants API'],
  [/^\/v1\/moderations$/, 'moderations'],
  [/^\/v1\/realtime(\/|$)/, 'the Realtime API'],
  [/^\/v1\/messages\/batches(\/|$)/, "Anthropic's message batches"],
];

/** The message of a 404 for `path`: names the unsupported API when it is a known one. */
export function notFoundMessage(method: string, path: string): string {
  const p = path.length > 256 ? `${path.slice(0, 256)}…` : path;
  for (const [re, what] of NOT_SERVED) {
    if (re.test(path))
      return `Sluice does not serve ${method} ${p}: ${what} is not supported by this gateway`;
  }
  return `no route for ${method} ${p}`;
}
