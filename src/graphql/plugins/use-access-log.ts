import { randomUUID } from 'node:crypto';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import { sql, type Kysely } from 'kysely';
import type { Plugin } from 'graphql-yoga';
import { AccessTrail } from '../../audit/access-trail.js';
import type { AccessLogContent } from '../../audit/entry-hash.js';
import { appendAccessLog } from '../../db/queries/access-log.js';
import { APP_ROLE } from '../../db/request-scope.js';
import type { Database } from '../../db/tables.js';
import {
  AuditUnavailableError,
  FieldNotPermittedError,
  PurposeNotPermittedError,
  PurposeRequiredError,
  QueryTooComplexError,
  TrustedDocumentNotFoundError,
  TrustedDocumentRequiredError,
} from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Policy } from '../../policy/policy.js';
import type { GraphQLContext } from '../context.js';
import { callerOf, resolvedCallerOf, verifiedClaimsOf } from './use-caller.js';

const DENIALS = new Set<string>([
  PurposeRequiredError.code,
  PurposeNotPermittedError.code,
  FieldNotPermittedError.code,
  QueryTooComplexError.code,
  TrustedDocumentRequiredError.code,
  TrustedDocumentNotFoundError.code,
]);
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const requestIds = new WeakMap<Request, string>();

/**
 * The gateway's own id for a request, always: a caller cannot choose which id its reads are logged
 * under (or collide with another request's). Sent back as X-Request-Id.
 */
function requestIdOf(request: Request): string {
  let id = requestIds.get(request);
  if (id === undefined) requestIds.set(request, (id = randomUUID()));
  return id;
}

/** The caller's X-Request-Id, when it is a plain token: logged beside ours as a correlation id. */
function correlationIdOf(request: Request): string | null {
  const given = request.headers.get('x-request-id');
  return given !== null && CORRELATION_ID.test(given) ? given : null;
}

function clientAddressOf(serverContext: unknown): string | null {
  const req = (serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req;
  return req?.socket?.remoteAddress ?? null;
}

const codeOf = (error: GraphQLError | undefined): string | null => {
  const code = error?.extensions?.['code'];
  return typeof code === 'string' ? code : null;
};

function operationNameOf(args: ExecutionArgs): string | null {
  if (args.operationName) return args.operationName;
  const operation = args.document.definitions.find((d) => d.kind === 'OperationDefinition');
  return operation?.kind === 'OperationDefinition' ? (operation.name?.value ?? null) : null;
}

export interface AccessLogOptions {
  db: Kysely<Database>;
  policy: Policy;
  logger: Logger;
}

/**
 * Every request that reads personal data leaves exactly one access-log entry, written in the
 * request's own transaction before it commits; if the entry cannot be written, no data leaves
 * (AUDIT_UNAVAILABLE, 503). Refused requests leave a DENIED entry. Must run before
 * useRequestTransaction so that its write happens inside the transaction.
 */
export function useAccessLog(options: AccessLogOptions): Plugin<{ trail: AccessTrail }> {
  /**
   * Writes an entry on its own (refusals, and reads whose own transaction could not take it), as
   * custodian_app like every other write (on the embedded database the connection itself is the
   * owner), in a transaction of its own; nothing else is read or written with it. Its bookkeeping
   * statements are tagged so the statement counter does not take them for reads.
   */
  const appendAlone = async (content: AccessLogContent): Promise<boolean> => {
    try {
      await options.db.connection().execute(async (connection) => {
        await sql`/* access-log */ begin`.execute(connection);
        try {
          await sql`/* access-log */ select set_config('role', ${APP_ROLE}, true)`.execute(connection);
          await appendAccessLog(connection, content);
          await sql`/* access-log */ commit`.execute(connection);
        } catch (error) {
          await sql`/* access-log */ rollback`.execute(connection).catch(() => undefined);
          throw error;
        }
      });
      return true;
    } catch (error) {
      options.logger.error('access_log.write_failed', error, { requestId: content.requestId });
      return false;
    }
  };

  return {
    onContextBuilding({ context, extendContext }) {
      extendContext({ trail: new AccessTrail(callerOf(context.request).decision) });
    },
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args: ExecutionArgs) => {
        const context = args.contextValue as GraphQLContext & { req?: unknown };
        const result = (await executeFn(args)) as ExecutionResult;
        if (context.trail.empty || Symbol.asyncIterator in result) return result;
        const { caller } = context;
        const content = context.trail.content(
          {
            at: new Date(),
            actor: caller.subject,
            role: caller.role,
            tenantId: caller.tenantId,
            purpose: caller.purpose,
            operationName: operationNameOf(args),
            requestId: requestIdOf(context.request),
            correlationId: correlationIdOf(context.request),
            tokenId: caller.tokenId,
            clientAddress: clientAddressOf(context),
          },
          result.errors?.length ? 'ERROR' : 'ALLOWED',
          codeOf(result.errors?.[0]),
        );
        try {
          await context.data.run((db) => appendAccessLog(db, content));
          return result;
        } catch (error) {
          options.logger.error('access_log.write_failed', error, { requestId: content.requestId });
          await context.data.transaction.finish('rollback').catch(() => undefined);
          // The read is still recorded if the log can take it on its own: then a request that
          // failed anyway keeps its errors (and loses its data); one that had succeeded does not
          // pass its data without a log entry in the same transaction.
          const recorded = await appendAlone({ ...content, outcome: 'ERROR', errorCode: AuditUnavailableError.code });
          if (recorded && result.errors?.length) return { errors: result.errors };
          return { errors: [new AuditUnavailableError()] };
        }
      });
    },
    async onResultProcess({ request, result, setResult, serverContext }) {
      if (Array.isArray(result) || Symbol.asyncIterator in result) return;
      const denial = result.errors?.find((error) => DENIALS.has(codeOf(error) ?? ''));
      const claims = verifiedClaimsOf(request);
      // A request whose token did not verify has no actor to record.
      if (denial === undefined || claims === undefined) return;
      const resolved = resolvedCallerOf(request);
      const declared = request.headers.get('x-purpose')?.trim() ?? '';
      const role = resolved?.caller.role ?? claims.roles.find((r) => options.policy.roles.has(r)) ?? claims.roles[0] ?? '(none)';
      const purpose = resolved?.caller.purpose ?? (options.policy.purposes.has(declared) ? declared : declared === '' ? '(none)' : '(undeclared)');
      const refused = denial.extensions?.['fields'];
      const content: AccessLogContent = {
        at: new Date(),
        actor: claims.sub,
        role,
        tenantId: resolved?.caller.tenantId ?? claims.tenant ?? null,
        purpose,
        operationName: null,
        requestId: requestIdOf(request),
        correlationId: correlationIdOf(request),
        tokenId: claims.jti ?? null,
        clientAddress: clientAddressOf(serverContext),
        subjects: [],
        fields: Array.isArray(refused) ? (refused as string[]) : [],
        masked: [],
        exposure: {},
        maskedBySubject: {},
        aggregates: [],
        outcome: 'DENIED',
        errorCode: codeOf(denial),
      };
      if (!(await appendAlone(content))) {
        setResult({ errors: [new AuditUnavailableError()] });
      }
    },
    onResponse({ request, response }) {
      response.headers.set('x-request-id', requestIdOf(request));
      const correlationId = correlationIdOf(request);
      if (correlationId !== null) response.headers.set('x-correlation-id', correlationId);
    },
  };
}
