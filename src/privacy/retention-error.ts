/** Retention refused to go on (the access log does not verify, a cut went wrong); printed by the CLI. */
export class RetentionError extends Error {
  readonly code = 'RETENTION_FAILED';
}
