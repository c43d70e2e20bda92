// Credentials Sluice was never given, recognised by their shape: provider key prefixes (sk-, sk-ant-,
// AIza, AKIA, xai-, gsk_, hf_, ...), JWTs, AWS secret keys, and whatever follows "Bearer"/"Basic" or a
// label such as api_key= / "password": . A hand-written single pass (no regular expression, so no
// backtracking): every position is looked at a bounded number of times, whatever the text.

interface PrefixShape {
  prefix: string;
  /** shortest whole token (prefix included) that counts as a key */
  min: number;
  chars: (c: number) => boolean;
}

const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** characters of API keys: letters, digits, '-' and '_' */
const isKeyChar = (c: number) => isAlnum(c) || c === 45 || c === 95;
const isUpperOrDigit = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
/** characters of JWTs and dotted tokens */
const isDottedChar = (c: number) => isKeyChar(c) || c === 46;
/** characters of bearer tokens and labelled values (RFC 6750 token68 plus '.') */
const isTokenChar = (c: number) =>
  isAlnum(c) || c === 45 || c === 46 || c === 95 || c === 126 || c === 43 || c === 47 || c === 61;
const isBase64Char = (c: number) => isAlnum(c) || c === 43 || c === 47;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

const PREFIXES: PrefixShape[] = [
  { prefix: 'sk-', min: 20, chars: isKeyChar }, // OpenAI (sk-proj-), Anthropic (sk-ant-), DeepSeek, ...
  { prefix: 'sk_', min: 20, chars: isKeyChar },
  { prefix: 'AIza', min: 30, chars: isKeyChar }, // Google API keys (Gemini)
  { prefix: 'AKIA', min: 20, chars: isUpperOrDigit }, // AWS access key ids
  { prefix: 'ASIA', min: 20, chars: isUpperOrDigit }, // AWS temporary access key ids
  { prefix: 'xai-', min: 20, chars: isKeyChar },
  { prefix: 'gsk_', min: 20, chars: isKeyChar }, // Groq
  { prefix: 'hf_', min: 20, chars: isKeyChar }, // Hugging Face
  { prefix: 'pplx-', min: 20, chars: isKeyChar }, // Perplexity
  { prefix: 'nvapi-', min: 20, chars: isKeyChar }, // NVIDIA
  { prefix: 'csk-', min: 20, chars: isKeyChar }, // Cerebras
  { prefix: 'r8_', min: 20, chars: isKeyChar }, // Replicate
  { prefix: 'ghp_', min: 20, chars: isKeyChar },
  { prefix: 'github_pat_', min: 20, chars: isKeyChar },
  { prefix: 'glpat-', min: 20, chars: isKeyChar },
  { prefix: 'ya29.', min: 20, chars: isDottedChar }, // Google OAuth access tokens
  { prefix: 'eyJ', min: 20, chars: isDottedChar }, // JWTs (base64url of '{"')
];

/**
 * Words after which the next token is a credential (compared lowercase). Only "bearer": "basic" and
 * "token" start ordinary sentences too ("basic validation failed"), and redacting those would garble
 * the provider's message for nothing.
 */
const SCHEMES = ['bearer'];
/** Labels whose value (after ':' or '=') is a credential. */
const LABELS = [
  'api_key',
  'api-key',
  'apikey',
  'x-api-key',
  'x-goog-api-key',
  'access_token',
  'client_secret',
  'secret_access_key',
  'secret',
  'password',
  'token',
];

function runEnd(text: string, from: number, chars: (c: number) => boolean): number {
  let j = from;
  while (j < text.length && chars(text.charCodeAt(j))) j++;
  return j;
}

function startsWithLower(text: string, at: number, word: string): boolean {
  if (at + word.length > text.length) return false;
  for (let k = 0; k < word.length; k++) {
    let c = text.charCodeAt(at + k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** A JWT has three dot-separated parts; other eyJ... runs (plain base64 JSON) are left alone. */
function shapeHolds(shape: PrefixShape, token: string): boolean {
  if (shape.prefix !== 'eyJ') return true;
  const first = token.indexOf('.');
  return first > 0 && token.indexOf('.', first + 1) > first + 1;
}

/** An AWS secret access key: exactly 40 base64 characters with upper, lower and digits. */
function isAwsSecretShape(text: string, start: number, end: number): boolean {
  if (end - start !== 40) return false;
  let upper = false;
  let lower = false;
  let digit = false;
  for (let k = start; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c >= 48 && c <= 57) digit = true;
  }
  return upper && lower && digit;
}

/** The value after a scheme word or a label at `at` (past spaces, ':' / '=' and quotes), or -1. */
function valueAfter(text: string, at: number, separators: boolean): number {
  let j = at;
  let seen = !separators; // a scheme needs whitespace, a label needs ':' or '='
  if (!separators) {
    if (j >= text.length || !isSpace(text.charCodeAt(j))) return -1;
  }
  // at most a few separator characters: a bounded look, whatever the text
  for (let n = 0; n < 8 && j < text.length; n++) {
    const c = text.charCodeAt(j);
    if (isSpace(c) || c === 34 || c === 39) j++;
    else if (separators && (c === 58 || c === 61)) {
      seen = true;
      j++;
    } else break;
  }
  return seen ? j : -1;
}

/** Calls mark(start, end) for every credential-shaped token in text. */
export function scanKeyShapes(text: string, mark: (start: number, end: number) => void): void {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const boundary = i === 0 || !isKeyChar(text.charCodeAt(i - 1));
    if (!boundary || !(isAlnum(c) || c === 95)) {
      i++;
      continue;
    }
    let next = -1;
    for (const shape of PREFIXES) {
      if (!text.startsWith(shape.prefix, i)) continue;
      let end = runEnd(text, i + shape.prefix.length, shape.chars);
      // a sentence's full stop after a dotted token is not part of it
      while (end > i && text.charCodeAt(end - 1) === 46) end--;
      if (end - i >= shape.min && shapeHolds(shape, text.slice(i, end))) {
        mark(i, end);
        next = end;
      }
      break;
    }
    if (next < 0) {
      for (const word of SCHEMES) {
        if (!startsWithLower(text, i, word)) continue;
        const v = valueAfter(text, i + word.length, false);
        const end = v < 0 ? -1 : runEnd(text, v, isTokenChar);
        if (v >= 0 && end - v >= 8) {
          mark(v, end);
          next = end;
        }
        break;
      }
    }
    if (next < 0) {
      for (const label of LABELS) {
        if (!startsWithLower(text, i, label)) continue;
        const v = valueAfter(text, i + label.length, true);
        const end = v < 0 ? -1 : runEnd(text, v, isTokenChar);
        if (v >= 0 && end - v >= 8) {
          mark(v, end);
          next = end;
          break;
        }
      }
    }
    if (next < 0 && (i === 0 || !isBase64Char(text.charCodeAt(i - 1)))) {
      // the start of a run of base64 characters: an AWS secret key if it has exactly that shape
      // (looked at no further than 41 characters, so runs of '/'-separated words stay linear)
      let end = i;
      while (end < text.length && end - i <= 40 && isBase64Char(text.charCodeAt(end))) end++;
      if (isAwsSecretShape(text, i, end) && (end === text.length || text.charCodeAt(end) !== 61)) {
        mark(i, end);
        next = end;
      }
    }
    i = next < 0 ? runEnd(text, i + 1, isKeyChar) : next;
  }
}
