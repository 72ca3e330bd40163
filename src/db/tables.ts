import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamp the database fills in by default. */
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface TenantsTable {
  id: string;
  name: string;
  created_at: DefaultedTimestamp;
}

export interface EventsTable {
  tenant_id: string;
  id: string;
  name: string;
  venue: string | null;
  starts_at: Timestamp;
}

export interface PeopleTable {
  id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  billing_line1: string | null;
  billing_city: string | null;
  billing_region: string | null;
  billing_postal_code: string | null;
  billing_country: string | null;
  age_range: string | null;
  residency: string;
  created_at: Timestamp;
  last_active_at: Timestamp | null;
}

export interface ConsentsTable {
  person_id: string;
  marketing: boolean;
  enrichment: boolean;
  do_not_sell: boolean;
  restricted: boolean;
  objection: boolean;
  updated_at: DefaultedTimestamp;
}

export interface EnrichmentsTable {
  person_id: string;
  source: string;
  company: string | null;
  job_title: string | null;
  industry: string | null;
  web_presence: string | null;
}

export interface DevicesTable {
  person_id: string;
  ip: string;
  user_agent: string;
}

export interface AttendeesTable {
  tenant_id: string;
  id: Generated<string>;
  /** Null once the person is erased: the tenant's orders then point at nobody. */
  person_id: string | null;
  created_at: DefaultedTimestamp;
}

export interface OrdersTable {
  tenant_id: string;
  id: string;
  event_id: string;
  attendee_id: string;
  placed_at: Timestamp;
  total_cents: number;
  currency: string;
  status: string;
  payment_ref: string | null;
}

export interface TicketsTable {
  tenant_id: string;
  id: string;
  order_id: string;
  type: string;
  checked_in_at: Timestamp | null;
}

export interface RelationshipsTable {
  tenant_id: string;
  from_attendee_id: string;
  to_attendee_id: string;
  kind: string;
}

export interface UsageEventsTable {
  person_id: string;
  at: Timestamp;
  page: string;
  feature: string;
}

export interface SupportCasesTable {
  id: string;
  person_id: string;
  opened_at: Timestamp;
  resolved_at: Timestamp | null;
  subject: string;
  body: string;
}

export interface AccessLogTable {
  seq: Generated<string>;
  at: Timestamp;
  actor: string;
  role: string;
  tenant_id: string | null;
  purpose: string;
  operation_name: string | null;
  request_id: string;
  token_id: string | null;
  client_address: string | null;
  subjects: string[];
  fields: string[];
  masked: string[];
  exposure: ColumnType<Record<string, string[]>, string, never>;
  outcome: string;
  error_code: string | null;
  correlation_id: string | null;
  masked_by_subject: ColumnType<Record<string, string[]>, string, never>;
  aggregates: string[];
  content_hash: string;
  /** Set by the chaining trigger (migration 0010): the chain taken and the position in it. */
  chain: Generated<number>;
  /** Null on entries written before 0010, which are chain 0 with link = seq. */
  link: Generated<string | null>;
  prev_hash: Generated<string>;
  hash: Generated<string>;
}

/** One head per chain; only the chaining trigger moves it, one link at a time (migration 0010). */
export interface AccessLogChainsTable {
  chain: number;
  link: string;
  hash: string;
}

export interface Database {
  tenants: TenantsTable;
  events: EventsTable;
  people: PeopleTable;
  consents: ConsentsTable;
  enrichments: EnrichmentsTable;
  devices: DevicesTable;
  attendees: AttendeesTable;
  orders: OrdersTable;
  tickets: TicketsTable;
  relationships: RelationshipsTable;
  usage_events: UsageEventsTable;
  support_cases: SupportCasesTable;
  access_log: AccessLogTable;
  access_log_subjects: AccessLogSubjectsTable;
  access_log_chains: AccessLogChainsTable;
  data_subject_requests: DataSubjectRequestsTable;
  'masked.people': MaskedPeopleView;
  'masked.attendees': MaskedAttendeesView;
  'masked.orders': MaskedOrdersView;
  'masked.tickets': TicketsTable;
  'masked.relationships': RelationshipsTable;
  'masked.devices': DevicesTable;
  'masked.usage_events': UsageEventsTable;
  'masked.support_cases': SupportCasesTable;
}

/**
 * The application role reads person-linked data only through the `masked` views (migration 0005):
 * each value as the transaction's purpose may read it, null where a person's state masks it.
 */
type Masked<T> = { [K in keyof T]: (T[K] extends ColumnType<infer S, unknown, unknown> ? S : T[K]) | null };

interface MaskedPersonColumns extends Masked<Omit<PeopleTable, 'id'>> {
  /** field → reason, for the fields this person's states mask for the purpose. */
  mask_reasons: Record<string, string>;
  /** Whether the person belongs in list reads for the purpose. */
  listed: boolean;
  company: string | null;
  job_title: string | null;
  industry: string | null;
  web_presence: string | null;
  consent_marketing: boolean | null;
  consent_enrichment: boolean | null;
  consent_do_not_sell: boolean | null;
  consent_restricted: boolean | null;
  consent_objection: boolean | null;
  consent_updated_at: Date | null;
}

export interface MaskedPeopleView extends MaskedPersonColumns {
  person_id: string;
}

export interface MaskedAttendeesView extends MaskedPersonColumns {
  tenant_id: string;
  id: string;
  person_id: string | null;
}

/** An order as the purpose may read it: its keys as stored, its figures null where not readable. */
export interface MaskedOrdersView
  extends Pick<OrdersTable, 'tenant_id' | 'id' | 'event_id' | 'attendee_id'>,
    Masked<Pick<OrdersTable, 'placed_at' | 'total_cents' | 'currency' | 'status' | 'payment_ref'>> {
  /** The person behind the order's attendee (null once erased). */
  person_id: string | null;
}

/** Tables whose rows belong to one tenant: RLS isolates them by `tenant_id`. */
export const TENANT_TABLES = ['events', 'attendees', 'orders', 'tickets', 'relationships'] as const;

/** Tables about one person, shared across tenants: a tenant sees a person's rows only through an attendee. */
export const PERSON_TABLES = ['people', 'consents', 'enrichments', 'devices', 'usage_events', 'support_cases'] as const;

export interface AccessLogSubjectsTable {
  person_id: string;
  at: Timestamp;
  seq: string;
}

export interface DataSubjectRequestsTable {
  id: Generated<string>;
  person_id: string;
  kind: string;
  requested_by: string;
  requested_by_role: string;
  requested_at: DefaultedTimestamp;
  due_at: Timestamp;
  completed_at: Timestamp | null;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
}
