import fs from 'node:fs';
import { parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { ConfigurationError, TrustedDocumentNotFoundError, TrustedDocumentRequiredError } from '../../errors.js';
import type { Policy } from '../../policy/policy.js';
import { resolvedCallerOf } from './use-caller.js';

export interface TrustedDocumentsOptions {
  /** Document id (for example its SHA-256, as GraphQL Codegen's persisted-documents.json has it) to text. */
  documents: ReadonlyMap<string, string>;
  /** Roles that may run only these documents; '*' is every role. The others may also send ad-hoc ones. */
  onlyForRoles: readonly string[];
}

/** Reads a JSON object of id to document text, refusing (at start-up) anything that does not parse. */
export function loadTrustedDocuments(file: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigurationError(`TRUSTED_DOCUMENTS_FILE ${file} cannot be read as JSON.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigurationError(`TRUSTED_DOCUMENTS_FILE ${file} must be a JSON object of document id to document text.`);
  }
  const documents = new Map<string, string>();
  for (const [id, text] of Object.entries(parsed)) {
    if (typeof text !== 'string') throw new ConfigurationError(`TRUSTED_DOCUMENTS_FILE: document "${id}" is not a string.`);
    try {
      parse(text);
    } catch {
      throw new ConfigurationError(`TRUSTED_DOCUMENTS_FILE: document "${id}" is not valid GraphQL.`);
    }
    documents.set(id, text);
  }
  return documents;
}

/** Refuses a role list naming a role the policy does not know (a typo would silently enforce nothing). */
export function checkTrustedDocumentRoles(onlyForRoles: readonly string[], policy: Policy): void {
  const unknown = onlyForRoles.filter((role) => role !== '*' && !policy.roles.has(role));
  if (unknown.length > 0) throw new ConfigurationError(`TRUSTED_DOCUMENTS_ONLY_ROLES names unknown roles: ${unknown.join(', ')}.`);
}

/**
 * Trusted documents (persisted operations): a client sends `extensions.persistedQuery.sha256Hash`
 * instead of a query. Callers in `onlyForRoles` may send nothing else (TRUSTED_DOCUMENT_REQUIRED),
 * so a deployment can refuse ad-hoc queries from organizer dashboards. Must come after useCaller:
 * the decision needs the caller's role, and a request without one is refused.
 */
export function useTrustedDocuments(options: TrustedDocumentsOptions): Plugin {
  const everyone = options.onlyForRoles.includes('*');
  return usePersistedOperations({
    getPersistedOperation: (id) => options.documents.get(id) ?? null,
    allowArbitraryOperations: (request) => {
      const role = resolvedCallerOf(request)?.caller.role;
      if (role === undefined) return false;
      return !everyone && !options.onlyForRoles.includes(role);
    },
    customErrors: {
      notFound: () => new TrustedDocumentNotFoundError(),
      persistedQueryOnly: () => new TrustedDocumentRequiredError(),
      // As yoga answers a request without a query when no trusted documents are configured.
      keyNotFound: {
        message: 'Must provide query string, or a trusted document id in extensions.persistedQuery.sha256Hash.',
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      },
    },
  }) as Plugin;
}
