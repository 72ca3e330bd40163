import type { AccessDecision } from '../policy/access-decision.js';
import type { AccessLogContent, Outcome } from './entry-hash.js';

interface PersonalSource {
  personId?: string | null;
  of?: { personId?: string | null };
  subjects?: readonly string[];
  consentMasks?: Readonly<Record<string, string>>;
}

const isEmpty = (value: unknown) => value === null || value === undefined || (Array.isArray(value) && value.length === 0);

/**
 * What one request read of personal data: which people, which `Type.field`s, what was masked and
 * why, and which categories each person had read unmasked. Filled as fields resolve (a set
 * insertion per field per row), written as one access-log entry per request.
 */
export class AccessTrail {
  readonly subjects = new Set<string>();
  readonly fields = new Set<string>();
  readonly masked = new Set<string>();
  readonly exposure = new Map<string, Set<string>>();

  constructor(private readonly decision: AccessDecision) {}

  get empty(): boolean {
    return this.fields.size === 0;
  }

  /** One personal field resolved on one object. */
  read(type: string, field: string, source: unknown, value: unknown): void {
    const key = `${type}.${field}`;
    this.fields.add(key);
    const personal = (source ?? {}) as PersonalSource;
    const people = personal.subjects ?? [personal.personId ?? personal.of?.personId].filter((p): p is string => typeof p === 'string');
    for (const person of people) this.subjects.add(person);
    const reason = isEmpty(value) ? personal.consentMasks?.[field] : undefined;
    const policyMask = this.decision.masks.get(key)?.level;
    if (reason !== undefined) this.masked.add(`${key}:${reason}`);
    else if (policyMask !== undefined && !isEmpty(value)) this.masked.add(`${key}:${policyMask === 'hash' ? 'HASH' : 'PARTIAL'}`);
    else if (!isEmpty(value)) {
      const category = this.decision.categoryOf(type, field);
      if (category === undefined) return;
      for (const person of people) {
        let categories = this.exposure.get(person);
        if (categories === undefined) this.exposure.set(person, (categories = new Set()));
        categories.add(category);
      }
    }
  }

  /** Fields refused before anything was read (a DENIED entry). */
  refused(fields: readonly string[]): void {
    for (const field of fields) this.fields.add(field);
  }

  content(
    request: Omit<AccessLogContent, 'subjects' | 'fields' | 'masked' | 'exposure' | 'outcome' | 'errorCode'>,
    outcome: Outcome,
    errorCode: string | null,
  ): AccessLogContent {
    return {
      ...request,
      subjects: [...this.subjects],
      fields: [...this.fields],
      masked: [...this.masked],
      exposure: Object.fromEntries([...this.exposure].map(([person, categories]) => [person, [...categories]])),
      outcome,
      errorCode,
    };
  }
}
