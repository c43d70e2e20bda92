// Load, parse and validate a dataplane config. Every problem is reported with the path of the bad field,
// and cross-references (route -> provider, namespace -> policy/route) are checked here, not at request time.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { compileNamespaces } from '../policy/compile.ts';
import { getPreset } from '../providers/presets.ts';
import { configSchema, type SluiceConfig } from './schema.ts';

export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[]) {
    super(
      `${source}: invalid config\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `providers[0].models[2].name` style path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out ? '.' : '') + String(seg);
  }
  return out;
}

/**
 * First line of a value the operator stored gzip-compressed and base64-encoded because the plain text
 * would not fit the 1 MiB limit of a ConfigMap or Secret. The rest of the text is the base64.
 */
export const COMPRESSED_MARKER = '# sluice:gzip+base64';

/** Plain text as is; compressed text (see COMPRESSED_MARKER) decompressed. */
export function decodeStoredText(text: string): string {
  if (!text.startsWith(COMPRESSED_MARKER)) return text;
  return gunzipSync(Buffer.from(text.slice(COMPRESSED_MARKER.length).trim(), 'base64')).toString('utf8');
}

/** JSON documents start with "{" (a config is an object); YAML block mappings never do. */
export function looksLikeJson(text: string): boolean {
  return /^\s*\{/.test(text);
}

function cannotParse(source: string, message: string): ConfigError {
  return new ConfigError(source, [{ path: '', message: `cannot parse: ${message}` }]);
}

/**
 * Parse config text, choosing the parser by content, not by file name: the operator renders JSON
 * (which is also YAML, so any mount name works) and JSON.parse reads 1,000 routes ~100x faster than
 * the YAML parser. Text that starts with "{" but is not JSON (YAML flow style, `{a: 1}`) still
 * parses as YAML, exactly as before; if YAML rejects it too, the JSON error (with its position) is
 * reported. Everything else is YAML (hand-written configs).
 */
export function parseConfigText(text: string, source: string): unknown {
  let plain: string;
  try {
    plain = decodeStoredText(text);
  } catch (err) {
    throw cannotParse(source, (err as Error).message);
  }
  if (looksLikeJson(plain)) {
    try {
      // a byte-order mark is whitespace to YAML but an error to JSON.parse
      return JSON.parse(plain.charCodeAt(0) === 0xfeff ? plain.slice(1) : plain);
    } catch (jsonError) {
      try {
        return parseYaml(plain);
      } catch {
        throw cannotParse(source, `invalid JSON: ${(jsonError as Error).message}`);
      }
    }
  }
  try {
    return parseYaml(plain);
  } catch (err) {
    throw cannotParse(source, (err as Error).message);
  }
}

function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

function duplicates<T extends { name: string }>(items: T[], key: string, issues: ConfigIssue[]): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name))
      issues.push({ path: `${key}[${i}].name`, message: `duplicate name "${item.name}"` });
    seen.add(item.name);
  });
  return seen;
}

/** Checks the schema cannot express: unique names, references, provider types and their credentials. */
export function checkReferences(cfg: SluiceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const providers = duplicates(cfg.providers, 'providers', issues);
  const routes = duplicates(cfg.routes, 'routes', issues);
  const policies = duplicates(cfg.policies, 'policies', issues);
  duplicates(cfg.namespaces, 'namespaces', issues);

  cfg.providers.forEach((p, i) => {
    const preset = getPreset(p.type);
    if (!preset) {
      issues.push({ path: `providers[${i}].type`, message: `unsupported provider type "${p.type}"` });
      return;
    }
    if (!p.baseUrl && !preset.defaultBaseUrl) {
      issues.push({ path: `providers[${i}].baseUrl`, message: `required for provider type "${p.type}"` });
    }
    const needsRegion =
      preset.auth === 'sigv4' || (!p.baseUrl && (preset.defaultBaseUrl ?? '').includes('{region}'));
    if (needsRegion && !p.region) {
      issues.push({ path: `providers[${i}].region`, message: `required for provider type "${p.type}"` });
    } else if (p.region !== undefined && !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(p.region)) {
      // the region becomes part of a host name and of the SigV4 scope
      issues.push({
        path: `providers[${i}].region`,
        message: 'must look like a region name, e.g. us-east-1',
      });
    }
    if (p.healthCheck && !p.healthCheck.path && (!preset.paths.health || preset.auth === 'sigv4')) {
      issues.push({
        path: `providers[${i}].healthCheck`,
        message: `provider type "${p.type}" has no health endpoint Sluice can probe; set healthCheck.path or omit healthCheck`,
      });
    }
    for (const cred of preset.requiredCredentials) {
      if (!p.credentials?.[cred]) {
        issues.push({
          path: `providers[${i}].credentials.${cred}`,
          message: `required for provider type "${p.type}"`,
        });
      }
    }
  });
  cfg.routes.forEach((r, i) => {
    const check = (list: typeof r.backends, key: string) =>
      list.forEach((b, j) => {
        if (!providers.has(b.provider)) {
          issues.push({
            path: `routes[${i}].${key}[${j}].provider`,
            message: `unknown provider "${b.provider}"`,
          });
        }
      });
    check(r.backends, 'backends');
    check(r.fallback, 'fallback');
    if (r.backends.every((b) => b.weight === 0)) {
      issues.push({ path: `routes[${i}].backends`, message: 'at least one backend needs a weight above 0' });
    }
    if (
      r.strategy === 'complexity' &&
      !(r.backends.some((b) => b.tier === 'cheap') && r.backends.some((b) => b.tier === 'strong'))
    ) {
      issues.push({
        path: `routes[${i}].backends`,
        message: 'the complexity strategy needs a backend of tier "cheap" and one of tier "strong"',
      });
    }
  });
  let defaults = 0;
  cfg.namespaces.forEach((ns, i) => {
    if (ns.default) defaults++;
    ns.policies.forEach((p, j) => {
      if (!policies.has(p))
        issues.push({ path: `namespaces[${i}].policies[${j}]`, message: `unknown policy "${p}"` });
    });
    ns.routes?.forEach((r, j) => {
      if (!routes.has(r))
        issues.push({ path: `namespaces[${i}].routes[${j}]`, message: `unknown route "${r}"` });
    });
  });
  if (defaults > 1) issues.push({ path: 'namespaces', message: 'at most one namespace may be the default' });
  if (cfg.store.type === 'redis' && !cfg.store.redis)
    issues.push({ path: 'store.redis', message: 'required when store.type is redis' });
  return issues;
}

/** Validate an already-parsed object. Returns the typed config or throws ConfigError with every issue. */
export function validateConfig(raw: unknown, source = 'config'): SluiceConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, zodIssues(result.error));
  const issues = checkReferences(result.data);
  if (issues.length) throw new ConfigError(source, issues);
  // Policy rules (filter regexes, scoped routes, key prefixes) are checked here too, so `sluice
  // validate` and the operator reject what the dataplane would refuse to load.
  try {
    compileNamespaces(result.data);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(source, err.issues);
    throw err;
  }
  return result.data;
}

export async function loadConfigFile(file: string): Promise<SluiceConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  return validateConfig(parseConfigText(text, file), file);
}
