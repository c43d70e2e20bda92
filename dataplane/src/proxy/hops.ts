// Loop detection. Every upstream request carries `x-sluice-hop: N+1`, where N is the hop count the
// request arrived with (0 from a client). A provider aimed at a Sluice gateway (this one through its
// Service, or a chain that leads back) therefore sees the count grow with each nesting, and a request
// arriving with more than MAX_HOPS is refused with 508 instead of fanning out without end. Chains of
// gateways up to MAX_HOPS deep (an edge gateway in front of a regional one) keep working.
import { GatewayError } from '../errors.ts';

export const HOP_HEADER = 'x-sluice-hop';
export const MAX_HOPS = 4;

/**
 * The hop count a request arrived with; throws SLUICE_ERR_LOOP_DETECTED beyond MAX_HOPS. A value that
 * is no count was never set by a gateway: it is the client's malformed header (400), not a loop. A 508
 * there would be a 5xx that the SDKs retry, for a request that can never succeed.
 */
export function incomingHops(headers: Record<string, string | string[] | undefined>): number {
  const raw = headers[HOP_HEADER];
  if (raw === undefined) return 0;
  const text = (Array.isArray(raw) ? raw[raw.length - 1] : raw)?.trim() ?? '';
  if (!/^\d{1,3}$/.test(text))
    throw new GatewayError(
      'SLUICE_ERR_INVALID_REQUEST',
      `${HOP_HEADER} must be the hop count a Sluice gateway sets (a number); got ${JSON.stringify(text.slice(0, 16))}`,
    );
  const hops = Number(text);
  if (hops > MAX_HOPS)
    throw new GatewayError(
      'SLUICE_ERR_LOOP_DETECTED',
      `request passed through more than ${MAX_HOPS} Sluice gateways (${HOP_HEADER}: ${hops}); a provider's baseUrl probably points back at a gateway`,
    );
  return hops;
}
