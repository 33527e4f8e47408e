import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { assertAuthConfigured } from '../tracking/auth/auth.js';
import {
  DEFAULT_ARTIFACTS_DESTINATION,
  DEFAULT_BACKEND_STORE_URI,
  startTrackingServer,
} from '../tracking/server/start.js';
import { createDatabase } from '../tracking/sql/database.js';
import { migrate } from '../tracking/sql/migrate.js';
import { ALL_MIGRATIONS } from '../tracking/sql/migrations/index.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InputError(`--port must be an integer 0-65535, got '${v}'`);
  return n;
}

function parseBytes(v: string): number {
  const m = /^(\d+)\s*([kmgt]?i?b?)?$/i.exec(v.trim());
  if (!m) throw new InputError(`Invalid size '${v}': use bytes or a suffix such as 512MiB, 5GiB`);
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Number(m[1]) * mult;
}

function parseReadWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new InputError(`--read-workers: expected a whole number from 0 to 64, got '${value}'`);
  }
  return n;
}

/**
 * `tassel server`: the tracking server speaking MLflow's REST API (flag names as `mlflow server`), and
 * `tassel server db upgrade` to apply schema migrations without starting it.
 */
export function register(program: Command): void {
  const server = program
    .command('server')
    .description("run the tracking server (MLflow's REST API 2.0: experiments, runs, metrics, artifacts)")
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '5000')
    .option(
      '--backend-store-uri <uri>',
      'sqlite:///PATH or postgresql://user:pass@host:port/db',
      DEFAULT_BACKEND_STORE_URI,
    )
    .option(
      '--artifacts-destination <uri>',
      'where proxied artifacts are stored: file:///PATH or s3://BUCKET/PREFIX',
      DEFAULT_ARTIFACTS_DESTINATION,
    )
    .option(
      '--default-artifact-root <uri>',
      "artifact root for new experiments (default mlflow-artifacts:/, served through this server's proxy)",
    )
    .option(
      '--no-serve-artifacts',
      'do not serve the mlflow-artifacts proxy; experiments use the destination directly',
    )
    .option('--max-artifact-size <bytes>', 'largest artifact accepted through the proxy (e.g. 5GiB)', '5GiB')
    .option('--max-body-size <bytes>', 'largest JSON request body (e.g. 16MiB)', '16MiB')
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace', 'info')
    .option(
      '--read-workers <n>',
      'worker threads that run runs/search on their own SQLite read connections (0: on the event loop)',
      String(Math.min(4, availableParallelism())),
    )
    .option(
      '--run-cache-size <bytes>',
      "runs' JSON kept for runs/get and runs/search while a run is unchanged, across the read workers (0: off)",
      '64MiB',
    )
    .option(
      '--auth-token <token>',
      'require this token (Bearer, or as Basic password); default $TASSEL_AUTH_TOKEN',
    )
    .option('--read-only-token <token>', 'a second token that may only read; default $TASSEL_READ_ONLY_TOKEN')
    .option('--insecure', 'serve a non-loopback address without --auth-token (on purpose)')
    .option('--webhook-url <url...>', 'POST registry changes as JSON to these URLs (retried with backoff)')
    .option(
      '--webhook-secret <secret>',
      'HMAC-SHA256 key for X-Tassel-Signature; default $TASSEL_WEBHOOK_SECRET',
    )
    .action(async (opts) => {
      const authToken: string | undefined = opts.authToken ?? (process.env.TASSEL_AUTH_TOKEN || undefined);
      const readOnlyToken: string | undefined =
        opts.readOnlyToken ?? (process.env.TASSEL_READ_ONLY_TOKEN || undefined);
      assertAuthConfigured({ host: opts.host, token: authToken, insecure: opts.insecure });
      const webhookUrls: string[] = opts.webhookUrl ?? [];
      const registryApp = {
        auth: authToken ? { token: authToken, readOnlyToken } : undefined,
        registry: webhookUrls.length
          ? {
              webhooks: {
                urls: webhookUrls,
                secret: opts.webhookSecret ?? process.env.TASSEL_WEBHOOK_SECRET,
              },
            }
          : undefined,
      };
      const running = await startTrackingServer({
        host: opts.host,
        port: parsePort(opts.port),
        backendStoreUri: opts.backendStoreUri,
        artifactsDestination: opts.artifactsDestination,
        defaultArtifactRoot: opts.defaultArtifactRoot,
        serveArtifacts: opts.serveArtifacts,
        logger: true,
        logLevel: opts.logLevel,
        readWorkers: parseReadWorkers(opts.readWorkers),
        runCacheBytes: parseBytes(opts.runCacheSize),
        app: {
          maxArtifactBytes: parseBytes(opts.maxArtifactSize),
          bodyLimit: parseBytes(opts.maxBodySize),
          ...registryApp,
        },
      });
      process.stdout.write(
        `tassel tracking server listening on ${running.url} (store ${running.database.displayUri})\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          running.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  server
    .command('db')
    .description('database maintenance')
    .command('upgrade')
    .description('apply pending schema migrations to the backend store and exit')
    .option('--backend-store-uri <uri>', 'sqlite:///PATH or postgresql://...', DEFAULT_BACKEND_STORE_URI)
    .action(async (opts) => {
      // Commander hands a flag also defined on `server` to the parent: take whichever was given.
      const parentUri = server.opts().backendStoreUri as string;
      const uri = opts.backendStoreUri !== DEFAULT_BACKEND_STORE_URI ? opts.backendStoreUri : parentUri;
      const database = await createDatabase(uri);
      try {
        const result = await migrate(database, ALL_MIGRATIONS);
        for (const m of result.applied)
          process.stdout.write(`applied ${m.module} v${m.version}: ${m.name}\n`);
        process.stdout.write(
          `${database.displayUri}: ${result.applied.length} migration(s) applied, ${result.alreadyApplied} already up to date\n`,
        );
      } finally {
        await database.close();
      }
    });
}
