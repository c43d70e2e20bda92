// A tenant whose JWT rule is shaped to catch another tenant's tokens, through a real in-process
// dataplane and the official openai SDK. Each tenant names its own claim; the gateway used to take
// the FIRST namespace whose claim the (unverified) token matched and verify with its keys alone:
//   - a tenant named after a value the victim's tokens carry (`aud: sluice-prod`) and keyed on `aud`
//     made every victim token fail (verified against the attacker's keys: 401);
//   - with a copy of the victim's public JWKS (public by design), the victim's tokens verified
//     and its callers were served as the attacker: the attacker's route and provider got the prompts.
// Now every namespace the claims name is verified; exactly one must verify the token.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, reloadTo, startDataplane } from '../helpers/dataplane.ts';
import { bodyMessage, client, hello, sdkError } from '../policy/fixtures.ts';

const victimKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ISSUER = 'https://idp.team-b.example';
let dir: string;
let dp: InProcessDataplane;

async function jwks(file: string, key: KeyObject, kid: string): Promise<string> {
  const path = join(dir, file);
  writeFileSync(
    path,
    JSON.stringify({ keys: [{ ...(await exportJWK(key)), kid, alg: 'RS256', use: 'sig' }] }),
  );
  return path;
}

/** Two mock providers that answer differently, so the answer says whose route served the call. */
function config(attackerJwks: string, victimJwks: string) {
  const mock = (name: string) => ({
    name,
    type: 'mock',
    models: [{ name: 'gpt-4o-mini' }],
    mock: { text: `answer from ${name}`, outputTokens: 3 },
  });
  return {
    store: { type: 'memory' },
    providers: [mock('attacker-provider'), mock('victim-provider')],
    routes: [
      {
        name: 'attacker-chat',
        match: { models: ['gpt-4o-mini'] },
        backends: [{ provider: 'attacker-provider' }],
      },
      {
        name: 'victim-chat',
        match: { models: ['gpt-4o-mini'] },
        backends: [{ provider: 'victim-provider' }],
      },
    ],
    namespaces: [
      // listed first, so it used to be tried first: named after the victim's audience, keyed on aud
      {
        name: 'sluice-prod',
        match: { jwt: { algorithms: ['RS256'], jwksFile: attackerJwks, claim: 'aud' } },
        routes: ['attacker-chat'],
      },
      {
        name: 'team-b',
        match: { jwt: { algorithms: ['RS256'], jwksFile: victimJwks, issuer: ISSUER } },
        routes: ['victim-chat'],
      },
    ],
  };
}

/** A token team-b's identity provider issues: it names team-b and its audience is "sluice-prod". */
function victimToken(claims: JWTPayload = {}, exp = '5m'): Promise<string> {
  return new SignJWT({ namespace: 'team-b', aud: 'sluice-prod', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'b1' })
    .setIssuer(ISSUER)
    .setSubject('alice')
    .setExpirationTime(exp)
    .sign(victimKey.privateKey);
}

async function answer(token: string): Promise<string> {
  const r = await client(dp.baseURL, token).chat.completions.create(hello);
  return r.choices[0]?.message.content ?? '';
}

async function metric(name: string, reason: string): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{reason="${reason}"}`));
  return line ? Number(line.split(' ')[1]) : 0;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-jwt-tenants-'));
  const own = await jwks('attacker.json', attackerKey.publicKey, 'a1');
  const victim = await jwks('victim.json', victimKey.publicKey, 'b1');
  dp = await startDataplane(config(own, victim));
});

afterAll(async () => {
  await dp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a tenant named after a claim value of another tenant’s tokens', () => {
  it('cannot make them fail: the victim is served on its own route, the attacker keeps its own tokens', async () => {
    expect(await answer(await victimToken())).toContain('answer from victim-provider');
    const attackers = await new SignJWT({ aud: 'sluice-prod' })
      .setProtectedHeader({ alg: 'RS256', kid: 'a1' })
      .setExpirationTime('5m')
      .sign(attackerKey.privateKey);
    expect(await answer(attackers)).toContain('answer from attacker-provider');
  });

  it('tells the victim why its own token failed, not why the attacker’s keys refused it', async () => {
    const err = await sdkError(
      client(dp.baseURL, await victimToken({}, '-2m')).chat.completions.create(hello),
    );
    expect(err.status).toBe(401);
    expect(bodyMessage(err)).toContain('"exp" claim timestamp check failed');
  });
});

describe('a tenant that also copies the victim’s public JWKS', () => {
  beforeAll(async () => {
    const copy = join(dir, 'copied.json');
    writeFileSync(copy, JSON.stringify({ keys: [{ ...(await exportJWK(victimKey.publicKey)), kid: 'b1' }] }));
    await reloadTo(dp, config(copy, join(dir, 'victim.json')));
  });

  it('never gets the victim’s callers: a token two tenants accept is refused, counted and named in no answer', async () => {
    const before = await metric('sluice_jwt_ambiguous_total', 'several_verify');
    const err = await sdkError(client(dp.baseURL, await victimToken()).chat.completions.create(hello));
    expect(err.status).toBe(401);
    expect(err.code).toBe('SLUICE_ERR_UNAUTHENTICATED');
    expect(bodyMessage(err)).toContain('valid for more than one namespace');
    expect(bodyMessage(err)).not.toContain('sluice-prod');
    expect(await metric('sluice_jwt_ambiguous_total', 'several_verify')).toBe(before + 1);
  });

  it('leaves the victim’s tokens that do not carry the copied claim value alone', async () => {
    expect(await answer(await victimToken({ aud: 'elsewhere' }))).toContain('answer from victim-provider');
  });
});
