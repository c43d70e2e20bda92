// What the dataplane says about a config goes into the status of the object it is blamed on, which
// its tenant reads. A replica's unexpected exception (traced to a tenant by isolate.ts) carries
// anyone's text: here it quotes the platform provider's credential, another tenant's HS256 secret
// and other tenants' objects, as an exception from a loader holding those values could. Before
// status_text.ts all of it was written into the culprit tenant's AINamespace status (cut to 500
// characters, not scrubbed). The exception is injected through the operator's kept LoadCheck, as
// isolate.test.ts does: no input known today makes the dataplane throw one.
import { describe, expect, it } from 'vitest';
import { type ConfigIssue, LoadCheck, type SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { renderChecked } from './preflight.ts';
import { blame, RenderError } from './render.ts';
import { RenderReuse } from './reuse.ts';
import { OTHER_OBJECT, StatusText } from './status_text.ts';
import { inventory, policy, provider, route, tenant } from './test_fixtures.ts';

const PLATFORM_KEY = 'plat-credential-7f3a9c2e5b1d4f60';
const OTHER_HS256 = 'team-b-hs256-secret-0123456789abcdef';
const OWN_HS256 = 'team-a-hs256-secret-fedcba9876543210';
const OTHER_FILE = 'ainamespace.team-b.billing.jwtSecret';

/** A replica that throws, quoting what it held, whenever team-a.culprit is served. */
class QuotingLoad extends LoadCheck {
  override async issues(config: SluiceConfig, data: Record<string, string>): Promise<ConfigIssue[]> {
    if (config.namespaces.some((n) => n.name === 'team-a.culprit' && !n.rejected))
      return [
        {
          path: '',
          message:
            `TypeError: cannot use header value "Bearer ${PLATFORM_KEY}" at namespaces[1].match.jwt ` +
            `(team-a.culprit) after ${OTHER_FILE}=${OTHER_HS256} for team-b.billing, ` +
            `own ${OWN_HS256}, policy team-b.spend`,
        },
      ];
    return super.issues(config, data);
  }
}

const hs256 = { match: { jwt: { algorithms: ['HS256' as const], secretRef: { name: 'hs', key: 'k' } } } };

function setup() {
  return inventory({
    providers: [provider('p', {}, 'platform')],
    routes: [route('r', ['p'], {}, 'platform')],
    namespaces: [tenant('culprit', hs256, 'team-a'), tenant('billing', hs256, 'team-b')],
    policies: [policy('spend', {}, 'team-b')],
    secrets: {
      'platform/p-key': { apiKey: PLATFORM_KEY },
      'team-a/hs': { k: OWN_HS256 },
      'team-b/hs': { k: OTHER_HS256 },
    },
  });
}

function quoting() {
  const reuse = new RenderReuse();
  (reuse as { preflight: LoadCheck }).preflight = new QuotingLoad();
  return { secretsDir: '/s', reuse };
}

describe("a replica's exception traced to a tenant", () => {
  it("reaches that tenant's status without any secret or other tenant's object, its paths kept", async () => {
    const opts = quoting();
    const r = await renderChecked(setup(), opts);
    const bad = r.outcomes.find((o) => o.key === 'AINamespace/team-a/culprit')?.accepted;
    expect(bad?.reason).toBe('Invalid');
    const message = bad?.message ?? '';
    for (const leaked of [PLATFORM_KEY, OTHER_HS256, OWN_HS256, 'team-b.billing', 'team-b.spend', 'team-b'])
      expect(message).not.toContain(leaked);
    expect(message).toBe(
      `a dataplane replica cannot load it: (root): TypeError: cannot use header value "Bearer [redacted]" at ` +
        `namespaces[1].match.jwt (team-a.culprit) after ainamespace.${OTHER_OBJECT}.jwt` +
        `Secret=[redacted] for ${OTHER_OBJECT}, own [redacted], policy ${OTHER_OBJECT}`,
    );
    // the other tenant is served
    expect(r.outcomes.find((o) => o.key === 'AINamespace/team-b/billing')?.accepted.ok).toBe(true);
    await opts.reuse.close();
  });

  it("reaches the operator's log without secrets when the platform's part is what fails", async () => {
    const reuse = new RenderReuse();
    class Quoting extends LoadCheck {
      override async issues(): Promise<ConfigIssue[]> {
        return [{ path: '', message: `undici: invalid header "Bearer ${PLATFORM_KEY}" of platform.p` }];
      }
    }
    (reuse as { preflight: LoadCheck }).preflight = new Quoting();
    const failed = renderChecked(setup(), { secretsDir: '/s', reuse });
    await expect(failed).rejects.toThrow(RenderError);
    // the platform's admin reads this log: names stay, the credential does not
    await expect(failed).rejects.toThrow(
      'rendered config cannot be loaded: (root): undici: invalid header "Bearer [redacted]" of platform.p',
    );
    await reuse.close();
  });
});

describe('an issue the dataplane names an entry for (blame)', () => {
  it("is scrubbed for the entry's owner the same way", () => {
    const owners = {
      providers: ['AIProvider/platform/p'],
      routes: ['AIRoute/platform/r'],
      namespaces: ['AINamespace/team-a/culprit', 'AINamespace/team-b/billing'],
      policies: [],
    };
    const rejected = new Map();
    const secretData = { 'provider.platform.p.apiKey': PLATFORM_KEY };
    blame(
      [{ path: 'namespaces[0].match.headers', message: `overlaps team-b.billing near ${PLATFORM_KEY}` }],
      owners,
      rejected,
      new StatusText(secretData, owners),
    );
    expect(rejected.get('AINamespace/team-a/culprit')).toEqual({
      path: 'rendered match.headers',
      message: `the dataplane rejects match.headers: overlaps ${OTHER_OBJECT} near [redacted]`,
    });
  });
});

describe('StatusText', () => {
  const owners = {
    providers: ['AIProvider/platform/openai.eu'],
    routes: [],
    namespaces: ['AINamespace/team-a/x', 'AINamespace/team-b/x.y'],
    policies: [],
  };
  const text = new StatusText({ f: 'short', g: 'a-long-enough-secret-value' }, owners);

  it("keeps field paths, the owner's own names and words that only look like names", () => {
    const s = 'namespaces[3].match.jwt.secret is team-a.x and team-b.xy and team-bb.x.y, short';
    expect(text.for('AINamespace/team-a/x', s)).toBe(s);
  });

  it('replaces the longest name of another namespace, also inside a secret file name', () => {
    expect(text.for('AINamespace/team-a/x', 'provider.platform.openai.eu.apiKey, team-b.x.y.')).toBe(
      `provider.${OTHER_OBJECT}.apiKey, ${OTHER_OBJECT}.`,
    );
    // a piece of a secret of MIN_FRAGMENT characters or more is still one
    expect(text.for('AINamespace/team-a/x', 'value a-long-enough')).toBe('value [redacted]');
  });

  it('bounds what it scans: a long message is cut before names are looked for', () => {
    const long = `${'team-b.'.repeat(20_000)}x.y`;
    const out = text.for('AINamespace/team-a/x', long);
    expect(out.length).toBeLessThanOrEqual(4096);
    expect(out).not.toContain(OTHER_OBJECT);
  });
});

describe('a JWKS Secret the check quotes from (a real input, no injection)', () => {
  it("names the Secret and the field in the tenant's status, never a piece of the Secret's text", async () => {
    // any JSON Secret of the tenant's namespace shaped like a JWKS, the tenant perhaps unable to read it
    const hidden = 'db-password-Zq81kLmN0pQ7xW';
    const inv = inventory({
      providers: [provider('p', {}, 'platform')],
      routes: [route('r', ['p'], {}, 'platform')],
      namespaces: [
        tenant('jwt', {
          match: { jwt: { algorithms: ['RS256'], jwksSecretRef: { name: 'other', key: 'k' } } },
        }),
      ],
      secrets: {
        'platform/p-key': { apiKey: PLATFORM_KEY },
        'team-a/other': { k: JSON.stringify({ keys: [{ kty: hidden }] }) },
      },
    });
    const r = await renderChecked(inv, { secretsDir: '/s' });
    const refs = r.outcomes.find((o) => o.key === 'AINamespace/team-a/jwt')?.resolvedRefs;
    expect(refs?.reason).toBe('InvalidJWKS');
    expect(refs?.message).not.toContain(hidden.slice(0, 8));
    expect(refs?.message).toBe(
      'the JWKS in Secret "other" key "k" (spec.match.jwt.jwksSecretRef) has no key that can verify ' +
        'RS256 tokens: keys[0]: kty [redacted] is not RSA',
    );
  });
});
