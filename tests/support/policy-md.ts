/** POLICY.md's purpose columns, in its order (transcribed from ../shared/spec/POLICY.md). */
export const POLICY_MD_PURPOSES = [
  'ticketing',
  'event-checkin',
  'event-communication',
  'event-reminders',
  'audience-insights',
  'grant-reporting',
  'marketing',
  'customer-support',
  'fraud-prevention',
  'payment-processing',
  'analytics',
  'legal-compliance',
  'self-service',
] as const;
