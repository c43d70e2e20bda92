// JWT namespace matching: HS256 with a shared secret, RS256/ES256 with a PEM public key or a JWKS file.
// Keys are imported once per config load; a claim (default "namespace") must equal the namespace name.
// Only the algorithms the namespace lists are accepted, so an "alg: none" or HS/RS confusion token fails.
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { ConfigError } from '../config/load.ts';
import type { NamespaceConfig, SecretSource } from '../config/schema.ts';
import { describeParseError } from '../security/parse_errors.ts';
import { checkJwks, publicKeyProblem } from './jwks.ts';

type JwtConfig = NonNullable<NamespaceConfig['match']['jwt']>;

export interface JwtMatcher {
  namespace: string;
  claim: string;
  /** the algorithms it accepts: a token of another `alg` is not verified at all */
  algorithms: readonly string[];
  /** the `iss` it requires, if any: a token from another issuer is not verified at all */
  issuer?: string;
  verify(token: string): Promise<JWTPayload>;
}

/** Allowed clock skew between the token issuer and this replica. */
const CLOCK_TOLERANCE_S = 30;

/**
 * Shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key as long as the hash (256 bits); a
 * shorter shared secret can be brute-forced from any one token a client holds.
 */
export const MIN_HS256_SECRET_BYTES = 32;

export function compileJwt(
  namespace: string,
  cfg: JwtConfig,
  path: string,
  readSecret: (s: SecretSource, path?: string) => string,
): JwtMatcher {
  const sources = [cfg.secret, cfg.publicKey, cfg.jwksFile].filter((s) => s !== undefined).length;
  if (sources !== 1)
    throw new ConfigError('config', [{ path, message: 'set exactly one of secret, publicKey or jwksFile' }]);
  const hmac = cfg.algorithms.includes('HS256');
  if (hmac && cfg.algorithms.length > 1)
    throw new ConfigError('config', [
      {
        path: `${path}.algorithms`,
        message: 'HS256 cannot be combined with RS256/ES256 (one key kind per namespace)',
      },
    ]);
  if (hmac && !cfg.secret)
    throw new ConfigError('config', [{ path: `${path}.secret`, message: 'HS256 needs a shared secret' }]);
  if (!hmac && cfg.secret)
    throw new ConfigError('config', [
      { path: `${path}.secret`, message: 'RS256/ES256 verify with publicKey or jwksFile' },
    ]);

  let key: KeyObject | JWTVerifyGetKey;
  try {
    if (cfg.secret) {
      const secret = Buffer.from(readSecret(cfg.secret, `${path}.secret`), 'utf8');
      if (secret.length < MIN_HS256_SECRET_BYTES)
        throw new ConfigError('config', [
          {
            path: `${path}.secret`,
            message: `an HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes (RFC 7518 section 3.2); this one has ${secret.length}`,
          },
        ]);
      key = createSecretKey(secret);
    } else if (cfg.publicKey) {
      key = createPublicKey(readSecret(cfg.publicKey, `${path}.publicKey`));
      const unfit = publicKeyProblem(key, cfg.algorithms);
      if (unfit) throw new ConfigError('config', [{ path: `${path}.publicKey`, message: unfit }]);
    } else {
      const text = readSecret({ file: cfg.jwksFile as string }, `${path}.jwksFile`);
      // a JWKS with no usable key would load and refuse every token (jwks.ts): refuse the config
      const jwks = checkJwks(text, cfg.algorithms);
      if (jwks.problem)
        throw new ConfigError('config', [{ path: `${path}.jwksFile`, message: `the JWKS ${jwks.problem}` }]);
      key = createLocalJWKSet(jwks.usable as Parameters<typeof createLocalJWKSet>[0]);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('config', [
      {
        path,
        // a JWKS that is not JSON: the parser's message would quote the file
        message: `cannot load the verification key: ${describeParseError(err)}`,
      },
    ]);
  }
  const options = {
    algorithms: cfg.algorithms,
    issuer: cfg.issuer,
    audience: cfg.audience,
    clockTolerance: CLOCK_TOLERANCE_S,
    // a token without exp would be valid forever: refused unless the namespace opts out
    requiredClaims: cfg.requireExp === false ? [] : ['exp'],
  };
  return {
    namespace,
    claim: cfg.claim,
    algorithms: cfg.algorithms,
    ...(cfg.issuer === undefined ? {} : { issuer: cfg.issuer }),
    async verify(token) {
      const { payload } =
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options);
      return payload;
    },
  };
}

/**
 * jose's own messages for these say which check failed in words of its own (a claim name it checks,
 * "signature verification failed"); the others quote the token's header (an unknown `crit` name, an
 * `alg`), which is the caller's text of any length, and are told as one bounded sentence.
 */
const TOLD_AS_IS = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

/** Why a token was refused, for the 401's message: never text taken from the token itself. */
export function jwtRefusal(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TOLD_AS_IS.has(code) && err instanceof Error) return err.message;
  return 'the token is malformed or uses a header parameter this gateway does not support';
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && JWT_SHAPE.test(token);
}

/** Claims read without verification, only to pick which namespace's keys to verify with. */
export function unverifiedClaims(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}
