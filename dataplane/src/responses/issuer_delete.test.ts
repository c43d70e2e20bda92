// Where a stored response is deleted at the provider that keeps its own copy: OpenAI's
// /v1/responses/{id}, Azure's /openai/responses/{id} with its api-version query after the id.
import { describe, expect, it } from 'vitest';
import { resolvedProvider } from '../../../test/helpers/provider_context.ts';
import { deletePath } from './issuer_delete.ts';

describe('deletePath', () => {
  it("puts the id on OpenAI's Responses path", () => {
    const openai = resolvedProvider('openai', { baseUrl: 'https://api.openai.com/v1', name: 'oa' });
    expect(deletePath(openai, 'resp_abc')).toBe('/v1/responses/resp_abc');
  });

  it("puts the id before Azure's api-version query", () => {
    const azure = resolvedProvider('azure-openai', {
      baseUrl: 'https://res.openai.azure.com',
      name: 'az',
      apiVersion: '2025-04-01-preview',
    });
    expect(deletePath(azure, 'resp_abc')).toBe('/openai/responses/resp_abc?api-version=2025-04-01-preview');
  });
});
