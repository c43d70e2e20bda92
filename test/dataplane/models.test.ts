// GET /v1/models and /v1/models/{id} with the official SDKs: OpenAI's shape with a real `created`,
// Anthropic's shape when the request carries anthropic-version, 404 model_not_found for a model that
// does not exist or that only another tenant's routes serve.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { sha256, tenantConfig } from '../policy/fixtures.ts';

let dp: InProcessDataplane;

beforeAll(async () => {
  dp = await startDataplane(
    tenantConfig({
      namespaces: [
        { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-a') }] }, routes: ['chat'] },
        { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-b') }] }, routes: ['internal'] },
      ],
    }),
  );
});

afterAll(async () => {
  await dp?.stop();
});

const openai = (key: string) => new OpenAI({ baseURL: dp.baseURL, apiKey: key, maxRetries: 0 });
const anthropic = (key: string) => new Anthropic({ baseURL: dp.url, apiKey: key, maxRetries: 0 });

describe('models in OpenAI shape', () => {
  it('lists the caller’s models with a creation time', async () => {
    const before = Math.floor(Date.now() / 1000) - 3600;
    const ids: string[] = [];
    for await (const m of openai('sk-a').models.list()) {
      expect(m.object).toBe('model');
      expect(m.created).toBeGreaterThan(before);
      ids.push(m.id);
    }
    expect(ids).toContain('gpt-4o-mini');
    expect(ids).not.toContain('internal-model');
  });

  it('retrieves one by id, and answers 404 model_not_found for unknown or another tenant’s', async () => {
    const m = await openai('sk-a').models.retrieve('gpt-4o-mini');
    expect(m).toMatchObject({ id: 'gpt-4o-mini', object: 'model', owned_by: 'sluice/chat' });
    for (const id of ['no-such-model', 'internal-model']) {
      const err = await openai('sk-a')
        .models.retrieve(id)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    }
    expect((await openai('sk-b').models.retrieve('internal-model')).id).toBe('internal-model');
  });
});

describe('models in Anthropic shape (anthropic-version sent)', () => {
  it('lists and retrieves with type, display_name and created_at', async () => {
    const page = await anthropic('sk-a').models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(ids).not.toContain('internal-model');
    for (const m of page.data) {
      expect(m.type).toBe('model');
      expect(typeof m.display_name).toBe('string');
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);
    }
    const one = await anthropic('sk-a').models.retrieve('gpt-4o-mini');
    expect(one).toMatchObject({ type: 'model', id: 'gpt-4o-mini' });
    const err = await anthropic('sk-a')
      .models.retrieve('internal-model')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  });
});
