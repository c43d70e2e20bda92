// Request validation for the fake Gemini API, following what generativelanguage v1beta rejects (with
// its own messages): unknown fields, empty contents/parts, roles other than user/model, parts with no
// or two data fields, function responses that do not answer the preceding calls one for one, schema
// keywords outside Gemini's OpenAPI subset (additionalProperties, $schema, $ref), bad generationConfig,
// function names outside Gemini's rule in declarations and in history.

export interface GeminiRejection {
  status: number;
  rpc: string;
  message: string;
}

const bad = (message: string): GeminiRejection => ({ status: 400, rpc: 'INVALID_ARGUMENT', message });
const unknownName = (name: string, at?: string): GeminiRejection =>
  bad(`Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ''}: Cannot find field.`);

const TOP = new Set([
  'contents',
  'systemInstruction',
  'generationConfig',
  'tools',
  'toolConfig',
  'safetySettings',
  'cachedContent',
]);
const DATA = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
];
const PART_EXTRA = new Set(['thought', 'thoughtSignature', 'videoMetadata']);
const GEN = new Set([
  'temperature',
  'topP',
  'topK',
  'maxOutputTokens',
  'stopSequences',
  'candidateCount',
  'presencePenalty',
  'frequencyPenalty',
  'seed',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'thinkingConfig',
  'responseLogprobs',
  'logprobs',
  'responseModalities',
]);
const SCHEMA = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);
const TYPES = new Set([
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
  'TYPE_UNSPECIFIED',
]);

/**
 * Gemini's rule for a function name (FunctionDeclaration.name in the v1beta reference and the
 * google-genai SDKs): starts with a letter or underscore; a-z, A-Z, 0-9, '_', '.', ':', '-'; at most
 * 64. The same name comes back in history (functionCall.name, functionResponse.name), so it is checked
 * there too: a call named what no declaration may be named is refused.
 */
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
const invalidName = (at: string) => bad(`* GenerateContentRequest.${at}: Invalid function name.`);

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function validateSchema(s: unknown, at: string): GeminiRejection | undefined {
  if (!isObj(s)) return bad(`Invalid value at '${at}': schema must be an object`);
  for (const [k, v] of Object.entries(s)) {
    if (!SCHEMA.has(k)) return unknownName(k, at);
    if (k === 'type' && (typeof v !== 'string' || !TYPES.has(v.toUpperCase())))
      return bad(
        `Invalid value at '${at}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(v)}`,
      );
    if (k === 'properties') {
      if (!isObj(v)) return bad(`Invalid value at '${at}.properties'`);
      for (const [p, ps] of Object.entries(v)) {
        const r = validateSchema(ps, `${at}.properties[${p}].value`);
        if (r) return r;
      }
    }
    if (k === 'items') {
      const r = validateSchema(v, `${at}.items`);
      if (r) return r;
    }
  }
  return undefined;
}

function validatePart(p: unknown, at: string, role: string | undefined): GeminiRejection | undefined {
  if (!isObj(p)) return bad(`Invalid value at '${at}': part must be an object`);
  // proto3 JSON: `text: ""` is the default value, i.e. not set, so a part holding only it has no data
  const data = Object.keys(p).filter((k) => DATA.includes(k) && !(k === 'text' && p.text === ''));
  for (const k of Object.keys(p)) if (!DATA.includes(k) && !PART_EXTRA.has(k)) return unknownName(k, at);
  if (data.length !== 1)
    return bad(
      `* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field`,
    );
  const inline = p.inlineData as Record<string, unknown> | undefined;
  if (
    inline &&
    (typeof inline.mimeType !== 'string' ||
      typeof inline.data !== 'string' ||
      !/^[A-Za-z0-9+/_-]*={0,2}$/.test(inline.data))
  )
    return bad(`Invalid value at '${at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed`);
  const file = p.fileData as Record<string, unknown> | undefined;
  if (file && typeof file.fileUri !== 'string')
    return bad(`* GenerateContentRequest.${at}.file_data.file_uri: file_uri is required`);
  const call = p.functionCall as Record<string, unknown> | undefined;
  if (
    call &&
    (typeof call.name !== 'string' || call.name === '' || (call.args !== undefined && !isObj(call.args)))
  )
    return bad(`* GenerateContentRequest.${at}.function_call.name: Name cannot be empty.`);
  if (call && !FUNCTION_NAME.test(call.name as string)) return invalidName(`${at}.function_call.name`);
  if (call && role === 'user')
    return bad(
      'Please ensure that function call turn comes immediately after a user turn or after a function response turn.',
    );
  const resp = p.functionResponse as Record<string, unknown> | undefined;
  if (resp && (typeof resp.name !== 'string' || !isObj(resp.response)))
    return bad(`* GenerateContentRequest.${at}.function_response: name and response are required`);
  if (resp && !FUNCTION_NAME.test(resp.name as string)) return invalidName(`${at}.function_response.name`);
  if (typeof p.text === 'object') return bad(`Invalid value at '${at}.text' (TYPE_STRING)`);
  return undefined;
}

function validateContents(contents: unknown): GeminiRejection | undefined {
  if (!Array.isArray(contents) || contents.length === 0)
    return bad('* GenerateContentRequest.contents: contents is not specified');
  for (let i = 0; i < contents.length; i++) {
    const c = contents[i] as Record<string, unknown>;
    const at = `contents[${i}]`;
    if (!isObj(c)) return bad(`Invalid value at '${at}'`);
    for (const k of Object.keys(c)) if (k !== 'role' && k !== 'parts') return unknownName(k, at);
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model')
      return bad('Please use a valid role: user, model.');
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      return bad(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.`);
    for (let j = 0; j < c.parts.length; j++) {
      const r = validatePart(c.parts[j], `${at}.parts[${j}]`, c.role as string | undefined);
      if (r) return r;
    }
    const responses = c.parts.filter((p) => isObj(p) && p.functionResponse).length;
    if (responses > 0) {
      const prev = contents[i - 1] as { role?: string; parts?: Array<Record<string, unknown>> } | undefined;
      const calls = prev?.role === 'model' ? (prev.parts ?? []).filter((p) => p.functionCall).length : 0;
      if (calls !== responses)
        return bad(
          'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
        );
    }
  }
  return undefined;
}

function validateGeneration(g: unknown): GeminiRejection | undefined {
  if (g === undefined) return undefined;
  if (!isObj(g)) return bad("Invalid value at 'generation_config'");
  for (const k of Object.keys(g)) if (!GEN.has(k)) return unknownName(k, 'generation_config');
  const num = (k: string, min: number, max: number) =>
    g[k] !== undefined && (typeof g[k] !== 'number' || (g[k] as number) < min || (g[k] as number) > max);
  if (num('temperature', 0, 2))
    return bad('* GenerateContentRequest.generation_config.temperature: must be in [0, 2]');
  if (num('topP', 0, 1)) return bad('* GenerateContentRequest.generation_config.top_p: must be in [0, 1]');
  // an int32 in Gemini's schema: a fraction is refused like any other invalid value
  if (num('candidateCount', 1, 8) || (g.candidateCount !== undefined && !Number.isInteger(g.candidateCount)))
    return bad('* GenerateContentRequest.generation_config.candidate_count: must be in [1, 8]');
  if (
    g.maxOutputTokens !== undefined &&
    (!Number.isInteger(g.maxOutputTokens) || (g.maxOutputTokens as number) < 1)
  )
    return bad('* GenerateContentRequest.generation_config.max_output_tokens: must be positive');
  if (Array.isArray(g.stopSequences) && g.stopSequences.length > 5)
    return bad('* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences');
  if (
    g.responseMimeType !== undefined &&
    !['text/plain', 'application/json', 'text/x.enum'].includes(g.responseMimeType as string)
  )
    return bad(
      `* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are text/plain, application/json`,
    );
  if (g.responseSchema !== undefined) {
    if (g.responseMimeType !== 'application/json' && g.responseMimeType !== 'text/x.enum')
      return bad(
        '* GenerateContentRequest.generation_config.response_schema: only supported with application/json',
      );
    return validateSchema(g.responseSchema, 'generation_config.response_schema');
  }
  return undefined;
}

function validateTools(tools: unknown, toolConfig: unknown): GeminiRejection | undefined {
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return bad("Invalid value at 'tools'");
    for (let i = 0; i < tools.length; i++) {
      const t = tools[i] as Record<string, unknown>;
      const decls = t?.functionDeclarations;
      if (!Array.isArray(decls)) return unknownName(Object.keys(t ?? {})[0] ?? 'tool', `tools[${i}]`);
      for (let j = 0; j < decls.length; j++) {
        const d = decls[j] as Record<string, unknown>;
        const at = `tools[${i}].function_declarations[${j}]`;
        if (typeof d.name !== 'string' || !FUNCTION_NAME.test(d.name)) return invalidName(`${at}.name`);
        if (d.parameters !== undefined) {
          const r = validateSchema(d.parameters, `${at}.parameters`);
          if (r) return r;
        }
      }
    }
  }
  const fcc = isObj(toolConfig)
    ? (toolConfig.functionCallingConfig as Record<string, unknown> | undefined)
    : undefined;
  if (fcc && !['AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(fcc.mode as string))
    return bad(`Invalid value at 'tool_config.function_calling_config.mode', ${JSON.stringify(fcc.mode)}`);
  if (fcc?.allowedFunctionNames !== undefined && fcc.mode !== 'ANY')
    return bad(
      '* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed with mode ANY',
    );
  return undefined;
}

export function validateGenerate(body: Record<string, unknown>): GeminiRejection | undefined {
  for (const k of Object.keys(body)) if (!TOP.has(k)) return unknownName(k);
  const sys = body.systemInstruction as Record<string, unknown> | undefined;
  if (
    sys !== undefined &&
    (!isObj(sys) || !Array.isArray(sys.parts) || sys.parts.some((p) => typeof p?.text !== 'string'))
  )
    return bad("Invalid value at 'system_instruction'");
  const emptySys = isObj(sys) ? (sys.parts as Array<{ text: string }>).findIndex((p) => p.text === '') : -1;
  if (emptySys >= 0)
    return bad(
      `* GenerateContentRequest.system_instruction.parts[${emptySys}].data: required oneof field 'data' must have one initialized field`,
    );
  return (
    validateContents(body.contents) ??
    validateGeneration(body.generationConfig) ??
    validateTools(body.tools, body.toolConfig)
  );
}

export function validateBatchEmbed(
  body: Record<string, unknown>,
  model: string,
): GeminiRejection | undefined {
  for (const k of Object.keys(body)) if (k !== 'requests') return unknownName(k);
  const reqs = body.requests;
  if (!Array.isArray(reqs) || reqs.length === 0)
    return bad('* BatchEmbedContentsRequest.requests: requests is required');
  if (reqs.length > 100)
    return bad('* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch');
  for (let i = 0; i < reqs.length; i++) {
    const r = reqs[i] as Record<string, unknown>;
    if (r?.model !== `models/${model}`)
      return bad(
        `Model names should match between the batch request and the embedding requests: models/${model} vs ${String(r?.model)}`,
      );
    const parts = (r.content as { parts?: Array<{ text?: unknown }> } | undefined)?.parts;
    if (!Array.isArray(parts) || parts.length === 0 || parts.some((p) => typeof p.text !== 'string'))
      return bad(`* BatchEmbedContentsRequest.requests[${i}].content.parts: must be non-empty text parts`);
    if (
      r.outputDimensionality !== undefined &&
      (!Number.isInteger(r.outputDimensionality) || (r.outputDimensionality as number) < 1)
    )
      return bad(`* BatchEmbedContentsRequest.requests[${i}].output_dimensionality: must be positive`);
  }
  return undefined;
}
