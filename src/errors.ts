import { GraphQLError } from 'graphql';

/**
 * Every error a client may see carries a stable `code` (like jose's error classes) and, where a
 * request is refused as a whole, the HTTP status CONTRACT.md fixes for it. Anything that is not a
 * CustodianError is masked by yoga before it reaches a client.
 */
export abstract class CustodianError extends GraphQLError {
  abstract readonly code: string;
  constructor(message: string, code: string, status: number | undefined, extra: Record<string, unknown> = {}) {
    super(message, {
      extensions: { code, ...extra, ...(status === undefined ? {} : { http: { status } }) },
    });
  }
}

export class UnauthenticatedError extends CustodianError {
  static readonly code = 'UNAUTHENTICATED';
  readonly code = UnauthenticatedError.code;
  constructor(message = 'A valid bearer token is required.') {
    super(message, UnauthenticatedError.code, 401);
  }
}

export class PurposeRequiredError extends CustodianError {
  static readonly code = 'PURPOSE_REQUIRED';
  readonly code = PurposeRequiredError.code;
  constructor() {
    super('Every request must declare its purpose in the X-Purpose header.', PurposeRequiredError.code, 403);
  }
}

export class PurposeNotPermittedError extends CustodianError {
  static readonly code = 'PURPOSE_NOT_PERMITTED';
  readonly code = PurposeNotPermittedError.code;
  constructor(message: string) {
    super(message, PurposeNotPermittedError.code, 403);
  }
}

export class FieldNotPermittedError extends CustodianError {
  static readonly code = 'FIELD_NOT_PERMITTED';
  readonly code = FieldNotPermittedError.code;
  readonly fields: readonly string[];
  constructor(purpose: string, fields: readonly string[]) {
    super(
      `The purpose "${purpose}" may not read: ${fields.join(', ')}. Nothing was read.`,
      FieldNotPermittedError.code,
      403,
      { fields: [...fields] },
    );
    this.fields = fields;
  }
}

export class NotFoundError extends CustodianError {
  static readonly code = 'NOT_FOUND';
  readonly code = NotFoundError.code;
  // The message never echoes the id: an id from another tenant must look exactly like a missing one.
  constructor(kind: string) {
    super(`${kind} not found.`, NotFoundError.code, undefined);
  }
}

export class BadUserInputError extends CustodianError {
  static readonly code = 'BAD_USER_INPUT';
  readonly code = BadUserInputError.code;
  constructor(message: string) {
    super(message, BadUserInputError.code, undefined);
  }
}

/** Configuration and start-up problems: never sent to clients, printed by the CLIs. */
export class ConfigurationError extends Error {
  readonly code = 'CONFIGURATION_INVALID';
}

/** The database role the gateway connects as is too powerful to serve with. */
export class UnsafeDatabaseRoleError extends Error {
  readonly code = 'UNSAFE_DATABASE_ROLE';
}

export class PersonErasedError extends CustodianError {
  static readonly code = 'PERSON_ERASED';
  readonly code = PersonErasedError.code;
  constructor() {
    super('This person was erased; only the record of the erasure remains, and nothing about them can change.', PersonErasedError.code, undefined);
  }
}

export class AuditUnavailableError extends CustodianError {
  static readonly code = 'AUDIT_UNAVAILABLE';
  readonly code = AuditUnavailableError.code;
  constructor() {
    super('The access log could not be written, so no data is returned. Try again later.', AuditUnavailableError.code, 503);
  }
}

/**
 * A token whose jti, or whose actor, a security reviewer revoked: refused from the next request
 * on every gateway process. CONTRACT.md: `UNAUTHENTICATED` with `extensions.reason: TOKEN_REVOKED`.
 */
export class TokenRevokedError extends CustodianError {
  static readonly code = 'UNAUTHENTICATED';
  static readonly reason = 'TOKEN_REVOKED';
  readonly code = TokenRevokedError.code;
  constructor() {
    super('This token has been revoked.', TokenRevokedError.code, 401, { reason: TokenRevokedError.reason });
  }
}

/** Which operation limit refused a request (CONTRACT.md: `extensions.limit`). */
export type OperationLimitName = 'depth' | 'aliases' | 'tokens' | 'directives' | 'cost' | 'export';

export class QueryTooComplexError extends CustodianError {
  static readonly code = 'QUERY_TOO_COMPLEX';
  readonly code = QueryTooComplexError.code;
  readonly limit: OperationLimitName;
  constructor(limit: OperationLimitName, max: number) {
    super(`The operation exceeds the ${limit} limit (${max}); nothing was run.`, QueryTooComplexError.code, 400, { limit, max });
    this.limit = limit;
  }
}

/** CONTRACT.md: too many requests for this caller; `Retry-After` says when to try again. */
export class RateLimitedError extends CustodianError {
  static readonly code = 'RATE_LIMITED';
  readonly code = RateLimitedError.code;
  constructor(retryAfterSeconds: number, scope: 'subject' | 'tenant') {
    super(`Too many requests for this ${scope === 'subject' ? 'caller' : 'tenant'}; try again in ${retryAfterSeconds} s.`, RateLimitedError.code, undefined, {
      scope,
      retryAfter: retryAfterSeconds,
      http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
    });
  }
}

/** CONTRACT.md: the database is unreachable or no connection came free in time. */
export class ServiceUnavailableError extends CustodianError {
  static readonly code = 'SERVICE_UNAVAILABLE';
  readonly code = ServiceUnavailableError.code;
  constructor(retryAfterSeconds = 5) {
    super('The service is busy or its database is unreachable; nothing was read. Try again later.', ServiceUnavailableError.code, undefined, {
      http: { status: 503, headers: { 'Retry-After': String(retryAfterSeconds) } },
    });
  }
}

/** A role that may send only trusted (persisted) documents sent an ad-hoc one. */
export class TrustedDocumentRequiredError extends CustodianError {
  static readonly code = 'TRUSTED_DOCUMENT_REQUIRED';
  readonly code = TrustedDocumentRequiredError.code;
  constructor() {
    super('This caller may run only trusted documents: send extensions.persistedQuery.sha256Hash (or documentId) of a registered operation.', TrustedDocumentRequiredError.code, 400);
  }
}

export class TrustedDocumentNotFoundError extends CustodianError {
  static readonly code = 'TRUSTED_DOCUMENT_NOT_FOUND';
  readonly code = TrustedDocumentNotFoundError.code;
  constructor() {
    super('No trusted document has this id.', TrustedDocumentNotFoundError.code, 400);
  }
}
