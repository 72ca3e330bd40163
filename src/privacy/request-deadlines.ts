/**
 * POLICY.md: a data-subject request is due in 30 days for GDPR residents (EU-*, GB) and in 45
 * days otherwise (CCPA and everyone else).
 */
export function daysToAnswer(residency: string | null | undefined): number {
  if (residency === null || residency === undefined) return 30; // unknown: the stricter deadline
  return residency.startsWith('EU-') || residency === 'GB' || residency.startsWith('GB-') ? 30 : 45;
}

export function dueDate(requestedAt: Date, residency: string | null | undefined): Date {
  return new Date(requestedAt.getTime() + daysToAnswer(residency) * 24 * 60 * 60 * 1000);
}
