// Prompt complexity score in [0, 1] (seed 003's complexity-based routing): longer prompts, code,
// reasoning cues and long conversations score higher. Weights come from the route config.

const CODE = /```|\bfunction\b|\bclass\b|\bdef\b|\bimport\b|=>|\breturn\b|[{};]\s*$/m;
const REASONING =
  /\b(why|prove|proof|derive|step[- ]by[- ]step|analy[sz]e|compare|explain|reason|trade-?offs?|optimi[sz]e|design|evaluate)\b|为什么|证明|推导|分析|比较|解释/i;

export interface ComplexityWeights {
  length: number;
  code: number;
  reasoning: number;
  turns: number;
}

export function complexityScore(text: string, turns: number, w: ComplexityWeights): number {
  // Saturating curves: 4k characters or 10 turns count as "long".
  const length = Math.min(1, text.length / 4000);
  const code = CODE.test(text) ? 1 : 0;
  const reasoning = REASONING.test(text) ? 1 : 0;
  const turnScore = Math.min(1, Math.max(0, turns - 1) / 9);
  const total = w.length + w.code + w.reasoning + w.turns;
  if (total === 0) return 0;
  return (w.length * length + w.code * code + w.reasoning * reasoning + w.turns * turnScore) / total;
}
