// The parts of a request that are billed as input but are not message text: tool definitions,
// tool-call arguments, images, audio, files and embeddings' token arrays. Leaving them out of the
// prompt let a tenant put ~9,000 tokens (or a private key) in a tool description past a 2,000-token
// window and a content filter. Text parts join the prompt text (so filters see them and the tokenizer
// counts them); parts that are not text get an ESTIMATE in tokens, documented in docs/policies.md
// ("What is counted"), and the provider's reported usage corrects the window after the answer.
import { type BpeEncodingName, decode } from '../tokens/bpe.ts';
import { isObj } from './validate.ts';

type Obj = Record<string, unknown>;

/** OpenAI's published image cost: 85 tokens at detail "low"; a 1024x1024 image at "high" is 765. */
export const IMAGE_TOKENS_LOW = 85;
export const IMAGE_TOKENS_HIGH = 765;
/** Anthropic: (width x height) / 750 tokens, ~1,600 for an image at its 1.15-megapixel cap. */
export const ANTHROPIC_IMAGE_TOKENS = 1_600;
/** Audio: ~10 tokens a second of speech; 1 token per 200 base64 chars covers compressed audio at ~64 kbit/s. */
const AUDIO_B64_CHARS_PER_TOKEN = 200;
/** Files (PDF pages become text plus page images): 1 token per 4 decoded bytes, deliberately high. */
const FILE_BYTES_PER_TOKEN = 4;

function jsonText(v: unknown): string {
  return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

/** Tool (and legacy function) definitions: name, description and parameter schema, as billed. */
export function toolDefinitionsText(body: Obj): string {
  const parts: string[] = [];
  const add = (name: unknown, description: unknown, schema: unknown) => {
    parts.push([jsonText(name), jsonText(description), jsonText(schema)].filter(Boolean).join('\n'));
  };
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    if (!isObj(t)) continue;
    const fn = isObj(t.function) ? t.function : t; // OpenAI {type, function: {...}}; Anthropic {name, ...}
    add(fn.name, fn.description, fn.parameters ?? fn.input_schema);
  }
  for (const f of Array.isArray(body.functions) ? body.functions : [])
    if (isObj(f)) add(f.name, f.description, f.parameters);
  return parts.join('\n');
}

/** OpenAI chat: the assistant's earlier tool calls (names and arguments) are input too. */
export function toolCallsText(messages: unknown): string {
  const parts: string[] = [];
  for (const m of Array.isArray(messages) ? messages : []) {
    if (!isObj(m)) continue;
    for (const c of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
      const fn = isObj(c) && isObj(c.function) ? c.function : undefined;
      if (fn) parts.push(`${jsonText(fn.name)} ${jsonText(fn.arguments)}`);
    }
    const legacy = isObj(m.function_call) ? m.function_call : undefined;
    if (legacy) parts.push(`${jsonText(legacy.name)} ${jsonText(legacy.arguments)}`);
  }
  return parts.join('\n');
}

/** Estimated tokens of one content part that is not text (0 for text parts). */
function partTokens(p: Obj): number {
  switch (p.type) {
    case 'image_url': {
      const detail = isObj(p.image_url) ? p.image_url.detail : undefined;
      return detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
    }
    case 'input_audio': {
      const data = isObj(p.input_audio) ? p.input_audio.data : undefined;
      return typeof data === 'string' ? Math.ceil(data.length / AUDIO_B64_CHARS_PER_TOKEN) : 0;
    }
    case 'file': {
      const data = isObj(p.file) ? p.file.file_data : undefined;
      return typeof data === 'string' ? Math.ceil((data.length * 0.75) / FILE_BYTES_PER_TOKEN) : 0;
    }
    case 'input_image': // Responses API
      return p.detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
    case 'input_file': {
      const data = typeof p.file_data === 'string' ? p.file_data : '';
      return Math.ceil((data.length * 0.75) / FILE_BYTES_PER_TOKEN);
    }
    case 'image':
      return ANTHROPIC_IMAGE_TOKENS;
    case 'document': {
      const src = isObj(p.source) ? p.source : undefined;
      const data = typeof src?.data === 'string' ? src.data : '';
      return Math.ceil((data.length * 0.75) / FILE_BYTES_PER_TOKEN);
    }
    default:
      return 0;
  }
}

/** Estimated input tokens of the parts of a chat, messages or responses request that are not text. */
export function nonTextTokens(body: Obj): number {
  let tokens = 0;
  const visit = (content: unknown) => {
    for (const p of Array.isArray(content) ? content : []) {
      if (!isObj(p)) continue;
      tokens += partTokens(p);
      // Anthropic tool results carry their own content blocks (images included)
      if (p.type === 'tool_result') visit(p.content);
    }
  };
  for (const m of Array.isArray(body.messages) ? body.messages : []) if (isObj(m)) visit(m.content);
  visit(body.system);
  // Responses API: input items carry content parts like messages do
  for (const item of Array.isArray(body.input) ? body.input : []) if (isObj(item)) visit(item.content);
  return tokens;
}

/** Embeddings input given as token ids (one array, or an array of arrays): how many tokens. */
export function tokenArrayTokens(input: unknown): number {
  if (!Array.isArray(input)) return 0;
  if (input.every((x) => typeof x === 'number')) return input.length;
  let n = 0;
  for (const x of input) if (Array.isArray(x)) n += x.length;
  return n;
}

/**
 * The text of embeddings token arrays, so content filters see what they say. OpenAI's embedding
 * models use cl100k_base; ids outside it (another model's tokenizer) decode to nothing.
 */
export function tokenArrayText(input: unknown, encoding: BpeEncodingName = 'cl100k_base'): string {
  if (!Array.isArray(input)) return '';
  const arrays = input.every((x) => typeof x === 'number') ? [input] : input.filter(Array.isArray);
  const out: string[] = [];
  for (const ids of arrays as unknown[][]) {
    if (!ids.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) continue;
    try {
      out.push(decode(ids as number[], encoding));
    } catch {
      // not ids of this encoding: counted, but there is no text to show a filter
    }
  }
  return out.join('\n');
}
