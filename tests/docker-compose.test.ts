import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../src/config.js';
import { HEALTH_PATHS } from '../src/ops/use-health.js';

// No Docker daemon on these machines: the files are checked against what the code reads.

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  stop_grace_period?: string;
}
const compose = parse(fs.readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const dockerfile = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
const packageJson = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** Every environment variable name the source reads (env.X, process.env.X), plus the OTel SDK's own. */
function variablesTheCodeReads(): Set<string> {
  const names = new Set<string>(['OTEL_SERVICE_NAME', 'OTEL_EXPORTER_OTLP_ENDPOINT']);
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) for (const match of fs.readFileSync(file, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(match[1]!);
    }
  };
  walk(path.join(projectRoot, 'src'));
  return names;
}

/** ${NAME:-default} → default; a compose value as the container sees it when nothing is set. */
const resolved = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

const { postgres, migrate, seed, gateway } = compose.services as Record<string, Service>;

describe('docker-compose.yml', () => {
  it('has PostgreSQL, a one-shot migrate, an optional demo seed and the gateway', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['gateway', 'migrate', 'postgres', 'seed']);
    expect(postgres!.image).toMatch(/^postgres:1[4-7]/);
    expect(migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(seed!.profiles).toEqual(['demo']);
    expect(seed!.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(gateway!.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
  });

  it('runs the same programs as the npm scripts, as node --import tsx so signals reach the server', () => {
    const script = (name: string) => packageJson.scripts[name]!.replace(/^tsx /, 'node --import tsx ');
    expect(packageJson.scripts.start).toBe('node --import tsx src/cli/serve.ts');
    expect(gateway!.command!.join(' ')).toBe(script('start'));
    expect(migrate!.command!.join(' ')).toBe(script('migrate'));
    expect(seed!.command!.join(' ')).toBe(`${script('seed')} --file fixtures/demo.json`);
    expect(fs.existsSync(path.join(projectRoot, 'fixtures', 'demo.json'))).toBe(true);
    expect(dockerfile).toContain(`CMD ${JSON.stringify(gateway!.command).replace(/,/g, ', ')}`);
  });

  it('sets only variables the code reads, and each one parses', () => {
    const known = variablesTheCodeReads();
    for (const service of [migrate!, seed!, gateway!]) {
      for (const name of Object.keys(service.environment ?? {})) expect(known, name).toContain(name);
    }
    // The gateway's environment, as the container gets it with the defaults, is a valid production configuration
    // once a key source is given.
    const env = Object.fromEntries(Object.entries(gateway!.environment!).map(([k, v]) => [k, resolved(String(v))]));
    expect(() => loadConfig(env)).toThrow(/AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE, AUTH_ISSUER, AUTH_AUDIENCE/);
    const config = loadConfig({ ...env, AUTH_JWKS_URL: 'https://issuer.example/jwks.json', AUTH_ISSUER: 'https://issuer.example', AUTH_AUDIENCE: 'custodian' });
    expect(config.production).toBe(true);
    expect(config.host).toBe('0.0.0.0');
    expect(config.ops.metricsPort).toBe(9464);
    expect(config.ops.shutdownTimeoutMs).toBe(10_000);
    expect(config.appDbRole).toBe('custodian_app');
  });

  it('connects the gateway as the role migrate creates, with the password migrate sets, to the database PostgreSQL creates', () => {
    const app = new URL(resolved(gateway!.environment!.DATABASE_URL!));
    const owner = new URL(resolved(migrate!.environment!.MIGRATE_DATABASE_URL!));
    expect(app.username).toBe(migrate!.environment!.APP_DB_ROLE);
    expect(app.username).toBe(gateway!.environment!.APP_DB_ROLE);
    expect(app.password).toBe(resolved(migrate!.environment!.APP_DB_PASSWORD!));
    expect(owner.username).toBe(postgres!.environment!.POSTGRES_USER);
    expect(owner.password).toBe(resolved(postgres!.environment!.POSTGRES_PASSWORD!));
    for (const url of [app, owner]) {
      expect(url.hostname).toBe('postgres');
      expect(url.pathname).toBe(`/${postgres!.environment!.POSTGRES_DB}`);
    }
    expect(app.username).not.toBe(owner.username);
  });

  it('publishes the ports the gateway listens on and checks health on /readyz', () => {
    const env = gateway!.environment!;
    const published = gateway!.ports!.map((p) => p.split(':').at(-1));
    expect(published).toEqual([env.PORT, env.METRICS_PORT]);
    // Metrics only on the host's loopback.
    expect(gateway!.ports![1]).toMatch(/^127\.0\.0\.1:/);
    const probe = gateway!.healthcheck!.test.join(' ');
    expect(probe).toContain(`http://127.0.0.1:${env.PORT}${HEALTH_PATHS.ready}`);
    expect(dockerfile).toContain(HEALTH_PATHS.ready);
    expect(dockerfile).toMatch(new RegExp(`EXPOSE ${env.PORT} ${env.METRICS_PORT}`));
    // Docker waits longer than the gateway's own shutdown bound before it kills.
    expect(Number.parseInt(gateway!.stop_grace_period!, 10)).toBeGreaterThan(Number.parseInt(env.SHUTDOWN_TIMEOUT!, 10));
  });
});

describe('Dockerfile', () => {
  it('builds on Node.js 20 with production dependencies only, runs as an unprivileged user, and copies what the code needs', () => {
    expect(dockerfile).toMatch(/^FROM node:20[-\w]*$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toMatch(/^USER node$/m);
    for (const dir of ['src', 'migrations', 'schema', 'fixtures']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
    // tsx runs the TypeScript at run time, so it must be a production dependency.
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeDefined();
  });
});
