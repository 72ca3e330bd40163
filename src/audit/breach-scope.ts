import type { AccessLogRow } from '../db/queries/access-log.js';

export interface BreachPerson {
  personId: string;
  /** Data categories read unmasked. */
  categories: string[];
  /** Entries that read this person unmasked. */
  reads: number;
}

export interface BreachScope {
  entries: number;
  people: BreachPerson[];
  categories: { category: string; people: number }[];
}

/**
 * Who was exposed, and which categories, from the access-log entries in scope: each entry's
 * exposure record (person → categories read unmasked). Used by `breachScope` and frozen into an
 * incident when it is opened.
 */
export function breachScopeOf(entries: readonly Pick<AccessLogRow, 'exposure'>[]): BreachScope {
  const people = new Map<string, { categories: Set<string>; reads: number }>();
  for (const entry of entries) {
    for (const [personId, categories] of Object.entries(entry.exposure)) {
      const person = people.get(personId) ?? { categories: new Set<string>(), reads: 0 };
      for (const category of categories) person.categories.add(category);
      person.reads += 1;
      people.set(personId, person);
    }
  }
  return {
    entries: entries.length,
    people: [...people]
      .map(([personId, p]) => ({ personId, categories: [...p.categories].sort(), reads: p.reads }))
      .sort((a, b) => a.personId.localeCompare(b.personId)),
    categories: categoryCounts([...people.values()].map((p) => p.categories)),
  };
}

/** People per category. */
export function categoryCounts(perPerson: Iterable<Iterable<string>>): { category: string; people: number }[] {
  const counts = new Map<string, number>();
  for (const categories of perPerson) {
    for (const category of categories) counts.set(category, (counts.get(category) ?? 0) + 1);
  }
  return [...counts].map(([category, people]) => ({ category, people })).sort((a, b) => a.category.localeCompare(b.category));
}
