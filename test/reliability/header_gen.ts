// Hostile request headers for header_fuzz.test.ts: every header Sluice reads gets values a tenant could
// send (empty, padded, huge-but-under-limit, repeated, wrong case, latin1 bytes, prototype names, comma
// lists, another tenant's key changed by one step, JWTs that are unsigned, forged, expired or nested).
// Each case carries the outcome identify.ts documents for it, so the suite can tell a wrong tenant from
// a right refusal: `tenant` is the namespace that must serve it, or undefined when it must be a 401.
// A channel code that matches no tenant is no credential (identify.ts rule 3): the default tenant
// ("open" in the suite) serves it, as it serves a request without credentials.

import fc from 'fast-check';
import { SignJWT } from 'jose';

export const KEY_ALPHA = 'sk-alpha-4f0c1d9e7b2a6c3e8d5f';
export const KEY_BETA = 'sk-beta-9a8b7c6d5e4f3a2b1c0d';
export const CHANNEL = 'ch-7';
export const JWT_SECRET = 'header-fuzz-hs256-secret-0123456789abcdef';
export const UPSTREAM_KEY = 'sk-upstream-7e6d5c4b3a29180f';

/** A header as sent on the wire: names may repeat and keep their case. */
export type Pair = [string, string];

export interface HeaderCase {
  pairs: Pair[];
  /** the namespace that must serve the request; undefined: a 401 */
  tenant: string | undefined;
  /** what the case is, printed when a property fails */
  label: string;
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Tokens signed once per run (jose is async; fast-check picks among them). */
export async function jwtTokens(): Promise<Record<string, string>> {
  const secret = new TextEncoder().encode(JWT_SECRET);
  const sign = (claims: Record<string, unknown>, exp: string | number = '5m', key = secret) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
  const valid = await sign({ namespace: 'jt', sub: 'user-1' });
  const [h, p] = valid.split('.') as [string, string, string];
  return {
    valid,
    algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
    wrongSignature: await sign({ namespace: 'jt' }, '5m', new TextEncoder().encode(`${JWT_SECRET}-other`)),
    expired: await sign({ namespace: 'jt' }, Math.floor(Date.now() / 1000) - 3600),
    hugeClaims: await sign({ namespace: 'jt', pad: 'x'.repeat(3000), list: Array(200).fill('y') }),
    nestedNamespace: await sign({ namespace: { namespace: 'jt' } }),
    namesKeyTenant: await sign({ namespace: 'alpha' }),
    // as text: an object literal's __proto__ would set its prototype, not become a claim
    protoClaim: `${h}.${Buffer.from('{"__proto__":{"namespace":"jt"},"constructor":"jt","exp":9e9}').toString('base64url')}.sig`,
    critHeader: `${b64({ alg: 'HS256', crit: ['x'.repeat(400)] })}.${p}.c2ln`,
    longAlg: `${b64({ alg: 'y'.repeat(400) })}.${p}.c2ln`,
    b64False: `${b64({ alg: 'HS256', b64: 'z'.repeat(400), crit: ['b64'] })}.${p}.c2ln`,
    badBase64: `eyJ${'%%%'}.${p}.sig`,
    notJsonPayload: `${h}.${Buffer.from('not json').toString('base64url')}.sig`,
    swappedPayload: `${h}.${b64({ namespace: 'jt', exp: 9e9, admin: true })}.${valid.split('.')[2]}`,
  };
}

/** Latin1 bytes Node's parser accepts in a value (obs-text), e.g. a key with an accented letter. */
const latin1 = fc
  .array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 8 })
  .map((cs) => String.fromCharCode(...cs));

/** Printable ASCII without the characters a header value may not hold. */
const visible = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });

export const hostileValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '\t', '__proto__', 'constructor', 'toString', 'null', 'undefined', '[]', '{}'),
  fc.constantFrom(
    'a, b',
    ',,,',
    'x'.repeat(1025),
    'x'.repeat(3000),
    '"quoted"',
    '<script>',
    '%00',
    '$' + '{x}',
  ),
  visible,
  latin1,
  fc.tuple(visible, latin1).map(([a, b]) => a + b),
);

/** One change to a credential: it must then match nothing. */
function mangled(key: string): fc.Arbitrary<[string, string]> {
  return fc.oneof(
    fc.constant([`${key}x`, 'suffix'] as [string, string]),
    fc.constant([`x${key}`, 'prefix'] as [string, string]),
    fc.constant([key.slice(0, -1), 'truncated'] as [string, string]),
    fc.constant([key.toUpperCase(), 'upper case'] as [string, string]),
    fc.constant([`${key},${key}`, 'comma list'] as [string, string]),
    fc.constant([`${key} ${key}`, 'doubled'] as [string, string]),
    fc.constant([`${key}\u00e9`, 'latin1 suffix'] as [string, string]),
    fc.constant([key.replace(/-/g, '_'), 'dash to underscore'] as [string, string]),
    fc.constant([`${key}${'0'.repeat(2000)}`, 'huge'] as [string, string]),
  );
}

const KEYS: Array<[string, string]> = [
  [KEY_ALPHA, 'alpha'],
  [KEY_BETA, 'beta'],
];

/** The credential header forms clients use; `Bearer` in any case (RFC 7235 schemes are case-blind). */
const carriers = fc.constantFrom(
  (k: string): Pair[] => [['Authorization', `Bearer ${k}`]],
  (k: string): Pair[] => [['authorization', `bearer  ${k}`]],
  (k: string): Pair[] => [['X-Api-Key', k]],
  (k: string): Pair[] => [['api-key', k]],
  (k: string): Pair[] => [['x-api-key', `  ${k}  `]],
);

export function identityCase(tokens: Record<string, string>): fc.Arbitrary<HeaderCase> {
  const exactKey = fc
    .tuple(fc.constantFrom(...KEYS), carriers)
    .map(([[k, ns], carry]) => ({ pairs: carry(k), tenant: ns, label: `${ns} key` }));
  const mangledKey = fc
    .tuple(fc.constantFrom(...KEYS), carriers)
    .chain(([[k, ns], carry]) =>
      mangled(k).map(([v, how]) => ({ pairs: carry(v), tenant: undefined, label: `${ns} key, ${how}` })),
    );
  // Node keeps the first of repeated Authorization headers and joins other repeats with ", "
  const repeated = fc.constantFrom<HeaderCase>(
    {
      pairs: [
        ['x-api-key', KEY_BETA],
        ['x-api-key', KEY_ALPHA],
      ],
      tenant: undefined,
      label: 'two x-api-key headers',
    },
    {
      pairs: [
        ['Authorization', `Bearer ${KEY_ALPHA}x`],
        ['x-api-key', KEY_BETA],
      ],
      tenant: undefined,
      label: 'a bad bearer hides a good x-api-key',
    },
    {
      pairs: [
        ['Authorization', `Bearer ${KEY_BETA}`],
        ['x-api-key', KEY_ALPHA],
      ],
      tenant: 'beta',
      label: 'a bearer comes before x-api-key',
    },
    {
      pairs: [
        ['x-api-key', KEY_ALPHA],
        ['X-Channel-Code', CHANNEL],
      ],
      tenant: 'alpha',
      label: 'a key comes before a channel code',
    },
  );
  const channel = fc
    .oneof(
      fc.constant<[Pair[], string | undefined, string]>([[['X-Channel-Code', CHANNEL]], 'chan', 'channel']),
      fc.constant<[Pair[], string | undefined, string]>([
        [
          ['x-channel-code', CHANNEL],
          ['Authorization', 'Bearer placeholder'],
        ],
        'chan',
        'channel + placeholder key',
      ]),
      fc.constant<[Pair[], string | undefined, string]>([
        [
          ['x-channel-code', CHANNEL],
          ['x-channel-code', CHANNEL],
        ],
        'open',
        'channel twice',
      ]),
      fc
        .constantFrom('CH-7', 'ch-7 x', 'ch-70', 'ch-\u00e97', 'ch-7,ch-7', '')
        .map((v): [Pair[], string | undefined, string] => [[['X-Channel-Code', v]], 'open', `channel ${v}`]),
    )
    .map(([pairs, tenant, label]) => ({ pairs, tenant, label }));
  const jwt = fc.constantFrom(...Object.keys(tokens)).map((name) => ({
    pairs: [['Authorization', `Bearer ${tokens[name]}`] as Pair],
    tenant: name === 'valid' || name === 'hugeClaims' ? 'jt' : undefined,
    label: `jwt ${name}`,
  }));
  // a credential-looking header that is no credential Sluice knows: never the default tenant
  const otherScheme = fc
    .constantFrom(`Basic ${Buffer.from(`u:${KEY_ALPHA}`).toString('base64')}`, KEY_ALPHA, `Token ${KEY_BETA}`)
    .map((v) => ({ pairs: [['Authorization', v] as Pair], tenant: undefined, label: `authorization ${v}` }));
  return fc.oneof(exactKey, mangledKey, repeated, channel, jwt, otherScheme);
}

/**
 * Headers Sluice reads besides the credentials, each with hostile values (or absent). X-Channel-Code
 * is a credential here: identityCase sends it, so the expected tenant stays known.
 */
export const READ_HEADERS = [
  'x-request-id',
  'anthropic-version',
  'anthropic-beta',
  'x-sluice-hop',
  'origin',
  'openai-organization',
  'accept',
  'cache-control',
  'traceparent',
  'tracestate',
] as const;

export const extraHeaders: fc.Arbitrary<Pair[]> = fc.array(
  fc.tuple(
    fc.constantFrom(
      ...READ_HEADERS,
      'X-Request-ID',
      'Anthropic-Beta',
      'connection',
      'te',
      'proxy-authorization',
      'cookie',
      'upgrade-insecure',
    ),
    fc.oneof(
      hostileValue,
      fc.constantFrom(
        'req-123.ok:1',
        '2023-06-01',
        'tools-2024-04-04,prompt-caching-2024-07-31',
        'https://app.example.com',
        '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        '00-00000000000000000000000000000000-b7ad6b7169203331-01',
        'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'vendor=opaque,other=1',
        'k=v,'.repeat(60),
        '0',
        '3',
        '4',
        '5',
        '-1',
        '1e3',
        ' 2 ',
      ),
    ),
  ),
  { maxLength: 5 },
);

/**
 * What Node's parser makes of the pairs: lower-case names, the first of a repeated Authorization,
 * others joined. A repeated Origin is joined too ("https://a.example, 1e3": no origin any policy
 * allows, so no CORS headers): this model kept the first, and the suite failed whenever it drew two
 * origins whose first was allowed.
 */
export function nodeView(pairs: Pair[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of pairs) {
    const name = k.toLowerCase();
    const value = v.trim();
    const prev = out.get(name);
    if (prev === undefined) out.set(name, value);
    else if (!['authorization', 'proxy-authorization'].includes(name))
      out.set(name, `${prev}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  return out;
}
