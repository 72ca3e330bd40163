import fs from 'node:fs';
import path from 'node:path';
import { parse, print, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.js';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';

/**
 * The README's worked examples, run top to bottom against one database, as a reader would: each
 * section's `npm run token` line gives the caller (sub, role, tenant as the command mints them),
 * its heading or a `# X-Purpose:` comment gives the purpose, and every operation must answer
 * without an error. Examples that trip over each other (an erased person used later, a
 * placeholder, a window in the past) fail here.
 */
interface Caller {
  role: string;
  tenant?: string;
  sub: string;
}
interface Example {
  section: string;
  caller: Caller;
  purpose: string;
  operation: OperationDefinitionNode;
}

const README = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');

function callerFrom(command: string): Caller {
  const args = command.split(/\s+/);
  const value = (name: string) => {
    const at = args.indexOf(`--${name}`);
    return at < 0 ? undefined : args[at + 1]?.replace(/\)$/, '');
  };
  const role = value('role')!;
  // As npm run token mints them: sub is --sub, else dev-<role>.
  return { role, tenant: value('tenant'), sub: value('sub') ?? `dev-${role}` };
}

function workedExamples(): Example[] {
  const start = README.indexOf('## Worked examples');
  const end = README.indexOf('\n## ', start + 1);
  const sections = README.slice(start, end).split(/\n### /).slice(1);
  const examples: Example[] = [];
  let caller: Caller | undefined;
  for (const section of sections) {
    const heading = section.split('\n')[0]!;
    const declared = [...heading.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const command = /npm run -s token -- ([^\n]+)/.exec(section);
    if (command !== null) caller = callerFrom(command[1]!);
    expect(caller, heading).toBeDefined();
    for (const block of section.matchAll(/```graphql\n([\s\S]*?)```/g)) {
      const text = block[1]!;
      const document = parse(text);
      for (const definition of document.definitions) {
        if (definition.kind !== 'OperationDefinition') continue;
        // The nearest `# X-Purpose:` comment before the operation, else the heading's purpose.
        const before = text.slice(0, definition.loc!.start);
        const comment = [...before.matchAll(/# X-Purpose: ([\w-]+)/g)].at(-1)?.[1];
        const purpose = comment ?? declared[1];
        expect(purpose, `${heading}: ${print(definition).slice(0, 60)}`).toBeDefined();
        examples.push({ section: heading, caller: caller!, purpose: purpose!, operation: definition });
      }
    }
  }
  return examples;
}

describe.each(DATABASE_KINDS)("the README's worked examples, top to bottom (%s)", (kind) => {
  const fixture = gatewayFixture(kind);

  it('each operation answers without an error', async () => {
    const examples = workedExamples();
    expect(examples.length).toBeGreaterThan(15);
    const results = new Map<string, Record<string, unknown>>();
    for (const example of examples) {
      const token = await fixture.keys.sign({ sub: example.caller.sub, roles: [example.caller.role], tenant: example.caller.tenant });
      const name = example.operation.name?.value;
      // The breach example's variables, as the README's shell lines compute them.
      const variables =
        name === 'Breach'
          ? {
              jti: (results.get('TokenOfARead') as { accessLog: { edges: { node: { tokenId: string } }[] } }).accessLog.edges[0]!.node.tokenId,
              from: new Date(Date.now() - 72 * 3600e3).toISOString(),
              to: new Date(Date.now() + 1000).toISOString(),
            }
          : undefined;
      const answer = await fixture.gateway.request({ query: print(example.operation), variables, token, purpose: example.purpose });
      const label = `${example.section} / ${name ?? print(example.operation).slice(0, 50)}`;
      expect(answer.body.errors, label).toBeUndefined();
      expect(answer.status, label).toBe(200);
      if (name !== undefined) results.set(name, answer.body.data as Record<string, unknown>);
    }
    // The breach example finds what the organizer dashboard read.
    const breach = results.get('Breach') as { breachScope: { entries: number; people: unknown[] } };
    expect(breach.breachScope.entries).toBeGreaterThan(0);
    expect(breach.breachScope.people.length).toBeGreaterThan(0);
  });

  it('the Quick start query answers', async () => {
    const command = /TOKEN=\$\(npm run -s token -- ([^\n]+)\)\ncurl[^\n]*\n[^\n]*X-Purpose: ([\w-]+)[^\n]*\n\s*-d '([^']+)'/.exec(README)!;
    expect(command).not.toBeNull();
    const caller = callerFrom(command[1]!);
    const token = await fixture.keys.sign({ sub: caller.sub, roles: [caller.role], tenant: caller.tenant });
    const answer = await fixture.gateway.request({ query: (JSON.parse(command[3]!) as { query: string }).query, token, purpose: command[2]! });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
  });
});
