// Describing why a file did not parse without quoting the file. V8's JSON.parse errors quote the start
// of the text ("Unexpected token 's', "sk-live-ab"... is not valid JSON") and the yaml package quotes
// the offending line under a caret: for a secret file mounted in the wrong place, or a kubeconfig,
// that is secret material in a config error, a /readyz answer, a CR status or a log line.
// Only the position and the kind of problem are kept.

/** "Expected ',' or '}' after property value at position 38 (line 4 column 3)" and the like. */
export function describeParseError(err: unknown): string {
  if (!(err instanceof Error)) return 'cannot be parsed';
  const yamlPos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
  const yamlCode = (err as { code?: unknown }).code;
  if (yamlPos && typeof yamlCode === 'string') {
    // the yaml package: a code such as BAD_INDENT and where; its message quotes the line
    const what = err.message.split(/ at line \d+/)[0] ?? '';
    return `${yamlCode} at line ${yamlPos.line}, column ${yamlPos.col}${safeWords(what) ? ` (${what})` : ''}`;
  }
  const m = err.message;
  if (err instanceof SyntaxError) {
    // V8's JSON errors: keep the kind of problem and the position, never the quoted text
    if (/Unexpected end of JSON input/.test(m)) return 'unexpected end of input';
    const where = /( at position \d+(?: \(line \d+ column \d+\))?)/.exec(m)?.[1] ?? '';
    // "Unexpected token 's'" quotes one character of the text: dropped; "Expected ',' or '}'" is grammar
    const kind = (m.split(/ in JSON| at position|,? "/)[0] ?? '')
      .replace(/ ?'[^']'/g, (q) => (/[A-Za-z0-9]/.test(q) ? '' : q))
      .trim();
    return `${safeWords(kind) ? kind : 'unexpected input'}${where}`;
  }
  return safeWords(m) ? m : 'cannot be parsed';
}

/** A message with nothing quoted from the input (single-quoted punctuation is the parser's grammar). */
function safeWords(s: string): boolean {
  return s.length > 0 && s.length <= 120 && !/["`\n]/.test(s) && !/'[A-Za-z0-9]'/.test(s);
}
