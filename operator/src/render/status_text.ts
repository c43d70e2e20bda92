// Text from the dataplane (its schema, its loader, an exception a replica throws while loading) goes
// into the status of the object it is blamed on, and a tenant reads its own AINamespace and AIPolicy
// status. The dataplane words its own checks with care (describeParseError, no secret in a message),
// but an unexpected exception's message is anyone's text: it may quote a value the loader held (a
// provider credential, an HS256 secret, a PEM or JWKS document, any tenant's or the platform's) or
// name other tenants' objects. So every such message is passed through the dataplane's own Redactor,
// built from every value of the rendered Secret (what a replica reads: exactly what it could quote),
// and every object name of another Kubernetes namespace in it (a dataplane name `<namespace>.<name>`,
// or inside a secret file name `<kind>.<namespace>.<name>.<item>`) is replaced. Field paths
// (`namespaces[3].match.jwt`) stay, so the message still says where the problem is.
import { MIN_FRAGMENT, Redactor } from '../../../dataplane/src/config/contract.ts';
import type { RenderResult } from './render.ts';

export const OTHER_OBJECT = "[another namespace's object]";

/** Longest dataplane name: a namespace (63) + '.' + an object name (253). */
const NAME_MAX = 63 + 1 + 253;
/** A status message never shows more than this much (tenants.ts cuts at 2000). */
const TEXT_MAX = 4096;
/** A run of characters that may be or contain a dataplane name. */
const TOKEN = /[a-z0-9][a-z0-9.-]*/g;

type Owners = RenderResult['owners'];

function redactorOf(values: readonly string[]): Redactor {
  // a value shorter than MIN_FRAGMENT would be matched anywhere, garbling ordinary words (and the
  // credential-shaped tokens are found by their shape regardless)
  return new Redactor({ providers: new Map(), other: values.filter((v) => v.trim().length >= MIN_FRAGMENT) });
}

/** `text` without any of `values` (whole or pieces of MIN_FRAGMENT characters) or credential shapes. */
export function withoutSecrets(text: string, values: readonly string[]): string {
  return redactorOf(values).redact(text);
}

export class StatusText {
  readonly #secretData: Readonly<Record<string, string>>;
  readonly #owners: Owners;
  /** built on first use: only a render that blames something pays for it */
  #redactor: Redactor | undefined;
  /** namespace -> dataplane names of objects in it */
  #names: Map<string, Set<string>> | undefined;

  constructor(secretData: Readonly<Record<string, string>>, owners: Owners) {
    this.#secretData = secretData;
    this.#owners = owners;
  }

  /** `text` fit for the status of `owner` (an object key, `<Kind>/<namespace>/<name>`). */
  for(owner: string, text: string): string {
    return this.#withoutOthers(owner.split('/')[1] ?? '', this.redact(text).slice(0, TEXT_MAX));
  }

  /** `text` without secret values or credential-shaped tokens (for the operator's own log). */
  redact(text: string): string {
    this.#redactor ??= redactorOf(Object.values(this.#secretData));
    return this.#redactor.redact(text);
  }

  #withoutOthers(namespace: string, text: string): string {
    const names = this.#namesByNamespace();
    return text.replace(TOKEN, (token) => {
      const labels = token.split('.');
      if (labels.length < 2) return token;
      const out: string[] = [];
      let i = 0;
      while (i < labels.length) {
        const found = names.get(labels[i] as string);
        let end = -1;
        if (found && labels[i] !== namespace) {
          // the longest `<namespace>.<name...>` starting here that names an object
          let candidate = labels[i] as string;
          for (let j = i + 1; j < labels.length && candidate.length <= NAME_MAX; j++) {
            candidate += `.${labels[j]}`;
            if (found.has(candidate)) end = j;
          }
        }
        out.push(end >= 0 ? OTHER_OBJECT : (labels[i] as string));
        i = end >= 0 ? end + 1 : i + 1;
      }
      return out.join('.');
    });
  }

  #namesByNamespace(): Map<string, Set<string>> {
    if (this.#names) return this.#names;
    const names = new Map<string, Set<string>>();
    for (const list of Object.values(this.#owners))
      for (const key of list) {
        const [, ns, name] = key.split('/');
        if (!ns || !name) continue;
        const set = names.get(ns) ?? new Set<string>();
        names.set(ns, set);
        set.add(`${ns}.${name}`);
      }
    this.#names = names;
    return names;
  }
}
