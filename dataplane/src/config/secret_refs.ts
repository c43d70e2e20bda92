// Every secret a config references ({env: X} / {file: F} sources and the key/JWKS files), listed with the
// path of its field, so that a missing one is reported together with all the others: `sluice serve`
// fails a load naming every unset variable at once, and `sluice validate --check-credentials` checks
// them before deploying (without the flag validate checks only the file, as CI has no credentials).
import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigIssue } from './load.ts';
import type { SecretSource, SluiceConfig } from './schema.ts';

export interface SecretRef {
  path: string;
  source: SecretSource;
}

export function secretRefs(cfg: SluiceConfig): SecretRef[] {
  const refs: SecretRef[] = [];
  cfg.providers.forEach((p, i) => {
    for (const [k, source] of Object.entries(p.credentials ?? {}))
      refs.push({ path: `providers[${i}].credentials.${k}`, source });
  });
  const password = cfg.store.redis?.password;
  if (password) refs.push({ path: 'store.redis.password', source: password });
  const tracing = cfg.server.tracing;
  if (tracing?.enabled)
    for (const [k, source] of Object.entries(tracing.headers ?? {}))
      refs.push({ path: `server.tracing.headers.${k}`, source });
  cfg.namespaces.forEach((ns, i) => {
    const path = `namespaces[${i}].match`;
    if (ns.match.apiKeysFile)
      refs.push({ path: `${path}.apiKeysFile`, source: { file: ns.match.apiKeysFile } });
    const jwt = ns.match.jwt;
    if (jwt?.secret) refs.push({ path: `${path}.jwt.secret`, source: jwt.secret });
    if (jwt?.publicKey) refs.push({ path: `${path}.jwt.publicKey`, source: jwt.publicKey });
    if (jwt?.jwksFile) refs.push({ path: `${path}.jwt.jwksFile`, source: { file: jwt.jwksFile } });
  });
  return refs;
}

/** One issue per unset variable or unreadable file, in config order. Files are checked for access
 * only: reading (and decoding) them stays with the load that uses them. */
export function missingSecrets(cfg: SluiceConfig, secretsDir: string, env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const { path, source } of secretRefs(cfg)) {
    if ('env' in source) {
      const v = env[source.env];
      if (v === undefined || v === '')
        issues.push({ path, message: `environment variable ${source.env} is not set` });
      continue;
    }
    const file = isAbsolute(source.file) ? source.file : resolve(secretsDir, source.file);
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      issues.push({
        path,
        message: `cannot read secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      });
    }
  }
  return issues;
}

/** The folder relative secret files resolve against: server.secretsDir (itself relative to the
 * config's folder) or the config's folder. */
export function secretsDirFor(cfg: SluiceConfig, configDir: string): string {
  return cfg.server.secretsDir ? resolve(configDir, cfg.server.secretsDir) : configDir;
}
