import type { Policy } from './policy.js';

/**
 * The policy as a human-readable matrix (docs/policy.md), generated so that it can never
 * disagree with schema/policy.yaml; a test fails when the committed copy drifts.
 */
export function renderPolicyMatrix(policy: Policy): string {
  const purposes = [...policy.purposes.keys()];
  const fieldsOf = new Map<string, string[]>();
  for (const [type, spec] of policy.types) {
    for (const [field, category] of spec.fields) {
      const list = fieldsOf.get(category) ?? [];
      list.push(`${type}.${field}`);
      fieldsOf.set(category, list);
    }
  }
  const lines = [
    '# Access policy',
    '',
    'Generated from `schema/policy.yaml` by `npm run policy:docs`; do not edit by hand.',
    '',
    '`full` = value as stored; `partial` = masked (email `q***@example.net`, phone `***-6027`);',
    '`hash` = SHA-256 of the normalised value; `agg` = aggregates of at least 5 people only;',
    '`—` = not readable: an operation asking for it is refused before anything is read.',
    '',
    '## Roles',
    '',
    '| role | scope | purposes |',
    '|---|---|---|',
    ...[...policy.roles].map(([role, spec]) => `| \`${role}\` | ${spec.scope} | ${spec.purposes.map((p) => `\`${p}\``).join(', ')} |`),
    '',
    '## Purposes',
    '',
    '| purpose | what for |',
    '|---|---|',
    ...[...policy.purposes].map(([purpose, description]) => `| \`${purpose}\` | ${description} |`),
    '',
    '## Categories × purposes',
    '',
    `| category | ${purposes.join(' | ')} |`,
    `|---|${purposes.map(() => '---').join('|')}|`,
    ...[...policy.categories].map(
      ([category, access]) => `| \`${category}\` | ${purposes.map((p) => access.get(p) ?? '—').join(' | ')} |`,
    ),
    '',
    '## Fields by category',
    '',
    '| category | fields |',
    '|---|---|',
    ...[...policy.categories.keys()].map((category) => `| \`${category}\` | ${(fieldsOf.get(category) ?? []).join(', ') || '(type defaults)'} |`),
    '',
    '## Types',
    '',
    '| type | personal | default category |',
    '|---|---|---|',
    ...[...policy.types].map(([type, spec]) => `| \`${type}\` | ${spec.personal ? 'yes' : 'no'} | ${spec.defaultCategory ?? '—'} |`),
    '',
  ];
  return lines.join('\n');
}
