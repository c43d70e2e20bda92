// Which keys of a JWKS document can ever verify a token of the namespace's algorithms. jose builds
// a key set from any object with a `keys` list and only looks at the keys when a token arrives, so
// a JWKS with no usable key (an empty list, only `use: enc` or `kty: oct` keys, a key whose modulus
// is not base64url, a private key) used to load, and every caller then got 401 with nothing saying
// why. It is checked here when the config loads, with the rules jose applies when it picks a key
// (jwks/local.js isUsableJWK, RSA keys of at least 2048 bits), and only the usable keys are handed
// to jose, so a malformed key next to a good one cannot make verification fail.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** kty and curve each algorithm verifies with (the namespace schema allows these two) */
const FAMILY: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
};

/** jose refuses RSA keys shorter than this for RS256 (lib/check_key_length.js) */
const MIN_RSA_BITS = 2048;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** At most this many keys are described in a message (a JWKS may list many). */
const DESCRIBED = 5;

export interface JwksCheck {
  /** the keys usable for at least one of the algorithms, as a JWKS jose can take */
  usable: { keys: Record<string, unknown>[] };
  /** why there is none, naming each key's first problem; undefined when some key is usable */
  problem?: string;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Why this key cannot verify a token of `alg`, or undefined when it can. */
function keyProblem(jwk: Record<string, unknown>, alg: string): string | undefined {
  const family = FAMILY[alg];
  if (!family) return `${alg} does not verify with a JWKS key`;
  if (jwk.kty !== family.kty) return `kty ${show(jwk.kty)} is not ${family.kty}`;
  if (family.crv && jwk.crv !== family.crv) return `crv ${show(jwk.crv)} is not ${family.crv}`;
  if (jwk.alg !== undefined && jwk.alg !== alg) return `alg ${show(jwk.alg)} is not ${alg}`;
  if (jwk.use !== undefined && jwk.use !== 'sig') return `use ${show(jwk.use)} is not "sig"`;
  const ops = jwk.key_ops;
  if (
    ops !== undefined &&
    !(
      Array.isArray(ops) &&
      ops.every((o, i) => typeof o === 'string' && ops.indexOf(o) === i) &&
      ops.includes('verify')
    )
  )
    return 'key_ops does not list "verify" (once)';
  if (jwk.ext !== undefined && typeof jwk.ext !== 'boolean') return 'ext is not a boolean';
  // a private key in a document meant to be public: refused, as jose refuses it
  if (jwk.d !== undefined) return 'it holds private key material ("d"): a JWKS lists public keys only';
  // node reads base64url leniently ("!!" is an empty modulus): the members must be base64url
  const members = family.kty === 'RSA' ? ['n', 'e'] : ['x', 'y'];
  const bad = members.find((m) => typeof jwk[m] !== 'string' || !BASE64URL.test(jwk[m] as string));
  if (bad) return `it is not a valid ${family.kty} public key ("${bad}" is not base64url)`;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return `it is not a valid ${family.kty} public key`;
  }
  return fitProblem(key, alg);
}

/** Why a parsed public key cannot verify `alg` tokens (jose's checks), or undefined. */
function fitProblem(key: KeyObject, alg: string): string | undefined {
  const type = key.asymmetricKeyType;
  if (alg === 'RS256') {
    if (type !== 'rsa') return `it is ${type ?? 'not an asymmetric'} key, not RSA`;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      return `its modulus has ${bits} bits, fewer than the ${MIN_RSA_BITS} RS256 needs`;
    return undefined;
  }
  if (alg === 'ES256') {
    if (type !== 'ec') return `it is ${type ?? 'not an asymmetric'} key, not EC`;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' ? undefined : `its curve is ${curve}, not P-256`;
  }
  return `${alg} does not verify with a public key`;
}

/**
 * Why a PEM public key cannot verify a token of any of `algorithms` (an RSA key for ES256, a P-384
 * key, a 1024-bit modulus): it parsed, and every token would then be refused with 401.
 */
export function publicKeyProblem(key: KeyObject, algorithms: readonly string[]): string | undefined {
  const problems = algorithms.map((alg) => fitProblem(key, alg));
  if (problems.some((p) => p === undefined)) return undefined;
  return `the public key cannot verify ${algorithms.join('/')} tokens: ${problems.join('; ')}`;
}

/** Check a JWKS document's text for the algorithms a namespace accepts. */
export function checkJwks(text: string, algorithms: readonly string[]): JwksCheck {
  const none = { keys: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { usable: none, problem: 'is not JSON' };
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Array.isArray(keys))
    return { usable: none, problem: 'is not a JWKS document (an object with a "keys" list)' };
  if (keys.length === 0)
    return { usable: none, problem: 'has an empty "keys" list: no token can be verified' };
  const usable: Record<string, unknown>[] = [];
  const why: string[] = [];
  keys.forEach((k, i) => {
    if (typeof k !== 'object' || k === null || Array.isArray(k)) {
      why.push(`keys[${i}] is not an object`);
      return;
    }
    const jwk = k as Record<string, unknown>;
    const problems = algorithms.map((alg) => keyProblem(jwk, alg));
    if (problems.some((p) => p === undefined)) usable.push(jwk);
    else why.push(`keys[${i}]: ${problems[0]}`);
  });
  if (usable.length > 0) return { usable: { keys: usable } };
  const more = why.length > DESCRIBED ? ` (and ${why.length - DESCRIBED} more)` : '';
  return {
    usable: none,
    problem: `has no key that can verify ${algorithms.join('/')} tokens: ${why.slice(0, DESCRIBED).join('; ')}${more}`,
  };
}
