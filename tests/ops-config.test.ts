import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigurationError } from '../src/errors.js';

const refused = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
};

describe('operations configuration', () => {
  it('defaults: /metrics on the gateway port, 10 s to drain, no traces, custodian_app', () => {
    const config = loadConfig({});
    expect(config.ops).toEqual({ metricsPort: undefined, shutdownTimeoutMs: 10_000, otlpEndpoint: undefined });
    expect(config.appDbRole).toBe('custodian_app');
  });

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m', 60_000],
    ['2500', 2500],
  ])('SHUTDOWN_TIMEOUT=%s is %d ms', (text, ms) => {
    expect(loadConfig({ SHUTDOWN_TIMEOUT: text }).ops.shutdownTimeoutMs).toBe(ms);
  });

  it('reads METRICS_PORT, the OTLP endpoint (traces-specific first) and APP_DB_ROLE', () => {
    const config = loadConfig({
      METRICS_PORT: '9464',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/v1/traces',
      APP_DB_ROLE: 'custodian_shop_a',
    });
    expect(config.ops.metricsPort).toBe(9464);
    expect(config.ops.otlpEndpoint).toBe('http://traces:4318/v1/traces');
    expect(config.appDbRole).toBe('custodian_shop_a');
  });

  it.each([
    [{ METRICS_PORT: 'nine' }, 'METRICS_PORT must be a whole number from 0 to 65535, got "nine".'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT must be a whole number from 0 to 65535, got "70000".'],
    [{ SHUTDOWN_TIMEOUT: 'soon' }, 'SHUTDOWN_TIMEOUT must be a duration such as 10s, 500ms or 1m, got "soon".'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got "collector:4318".'],
    [{ APP_DB_ROLE: 'app"; drop role postgres; --' }, 'APP_DB_ROLE must be a lower-case PostgreSQL role name'],
    [{ APP_DB_ROLE: 'Custodian' }, 'APP_DB_ROLE must be a lower-case PostgreSQL role name'],
  ])('refuses %o with one clear line', (env, message) => {
    expect(refused(env)).toContain(message);
  });
});
