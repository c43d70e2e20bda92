// `sluice validate -f DIR|FILE...`: check Sluice custom resources offline against the CRD schemas
// (structure, defaults, every CEL rule) and their references, printing the path of each bad field.
import { parseArgs } from 'node:util';
import { checkOffline, formatIssue } from '../operator/src/offline.ts';

export const VALIDATE_CRS_HELP = `usage: sluice validate -f DIR|FILE... [-n NAMESPACE] [--assume-secrets] [--platform-namespace NS]

Checks AIProvider, AIRoute, AINamespace and AIPolicy manifests against the CRD schemas (types,
required fields, enums, bounds, patterns and all CEL rules) and their references (providers, routes,
policies, Secrets), as the cluster would. Prints "SOURCE: Kind ns/name: path.to.field: message" per
problem, or "N objects ok". --platform-namespace applies every AIPolicy of NS to every AINamespace,
as the operator's flag of that name does.`;

export async function validateCrs(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      namespace: { type: 'string', short: 'n' },
      'assume-secrets': { type: 'boolean' },
      'platform-namespace': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.filename?.length) {
    console.log(VALIDATE_CRS_HELP);
    return values.help ? 0 : 2;
  }
  const result = await checkOffline(values.filename, {
    namespace: values.namespace ?? 'default',
    secretsDir: '/etc/sluice/secrets',
    assumeSecrets: values['assume-secrets'] ?? false,
    platformNamespace: values['platform-namespace'] || undefined,
  });
  for (const issue of result.issues) console.error(formatIssue(issue));
  if (result.issues.length) return 1;
  console.log(`${result.objects} objects ok`);
  return 0;
}
