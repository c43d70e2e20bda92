import { defineConfig } from 'vitest/config';

// Integration suites start real processes (dataplane, redis-server, kube-apiserver),
// so files run in parallel forks but with generous timeouts and a bounded pool on 2 cores.
export default defineConfig({
  test: {
    include: [
      'dataplane/src/**/*.test.ts',
      'operator/src/**/*.test.ts',
      'kube/**/*.test.ts',
      'cli/**/*.test.ts',
      'test/**/*.test.ts',
      'scripts/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global/log_scrub.ts'],
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // The upstream credential the test configs reference; the log-scrubbing checks grep for it.
    env: { SLUICE_TEST_KEY: 'sk-test-upstream-secret-7f3a9' }, // = UPSTREAM_KEY in test/helpers/secrets.ts
  },
});
