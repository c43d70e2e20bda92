// Who is calling within a namespace, as the per-key limit counters name it (`scope.perApiKey`): one
// token per caller, safe inside a store key, and never the same for two callers of different sources.
// An API key named "jwt:x" once shared its counters with the JWT whose `sub` is "x" (both were
// "jwt:x"), and a key named "-" shared them with every keyless caller of its namespace: a tenant's key
// holder could spend another caller's per-key budget, or free its own by choosing a name.
//
//   API key  -> encodeURIComponent(name)           (unchanged from earlier releases: counters survive)
//   JWT      -> "jwt=" + encodeURIComponent(sub)
//   keyless  -> "anon="  (header-matched callers, the default namespace, a JWT without `sub`)
//
// encodeURIComponent never leaves "=", ":", "/", "{" or "}" in its output, so an API key's token has no
// "=" and the other sources' tokens all do, before anything the caller chose: no name or `sub` can
// produce another source's token, and no token holds the ":" that separates the parts of a store key
// or the braces of its Redis Cluster hash tag (policy/batch.ts).
export const ANONYMOUS_CALLER = 'anon=';

export function apiKeyCaller(keyName: string): string {
  return encodeURIComponent(keyName);
}

export function jwtCaller(subject: string): string {
  return `jwt=${encodeURIComponent(subject)}`;
}
