// Secret values used by the tests. Every one of them must never appear in a response or a log line;
// test/global/log_scrub.ts greps the whole suite's logs for them.
export const UPSTREAM_KEY = 'sk-test-upstream-secret-7f3a9';
export const CLIENT_KEY = 'sk-sluice-client-key-4c1e8';
export const JWT_SECRET = 'jwt-test-signing-secret-93b2d-4f1c7e'; // >= 32 bytes (HS256 minimum)
export const REDIS_PASSWORD = 'redis-test-password-5e7a1';

export const TEST_SECRETS = [UPSTREAM_KEY, CLIENT_KEY, JWT_SECRET, REDIS_PASSWORD];
