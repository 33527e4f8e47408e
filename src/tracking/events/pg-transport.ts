import pg from 'pg';
import type { EventTransport } from './bus.js';

export interface PgEventTransportOptions {
  /** PostgreSQL connection string of the shared database. */
  connectionString: string;
  /**
   * NOTIFY channel. Channels are per database, so replicas sharing one schema must use the same
   * channel and deployments sharing a database in different schemas must not (see {@link channelForSchema}).
   */
  channel: string;
  /** First reconnect delay after the LISTEN connection drops; doubles up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  onError?: (error: unknown) => void;
  /** Called after every (re)connection, e.g. for logs or tests. */
  onConnect?: () => void;
}

/** PostgreSQL's NOTIFY payload limit is 8000 bytes; bigger events are refused rather than truncated. */
const MAX_PAYLOAD_BYTES = 7900;

/** The application_name of the LISTEN connection (visible in pg_stat_activity). */
export function listenerApplicationName(channel: string): string {
  return `tassel-events:${channel}`.slice(0, 63);
}

/** A channel name for a schema: lower-case identifier characters only, within PostgreSQL's 63-byte limit. */
export function channelForSchema(schema: string | undefined): string {
  const s = (schema ?? 'public').toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `tassel_registry_${s}`.slice(0, 63);
}

/**
 * LISTEN/NOTIFY transport: one dedicated client per process LISTENs (reconnecting with backoff when the
 * connection fails), and NOTIFY goes through the same client, so every replica on the database
 * receives every event, its own included (the bus drops the echo by uid).
 */
export function createPgEventTransport(options: PgEventTransportOptions): EventTransport {
  const channel = options.channel;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid NOTIFY channel name: ${channel}`);
  const baseDelay = options.reconnectDelayMs ?? 250;
  const maxDelay = options.maxReconnectDelayMs ?? 10_000;
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let onMessage: ((payload: string) => void) | undefined;
  let delay = baseDelay;
  let timer: NodeJS.Timeout | undefined;

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: options.connectionString,
      application_name: listenerApplicationName(channel),
    });
    c.on('error', (e) => {
      options.onError?.(e);
      dropAndReconnect(c);
    });
    c.on('end', () => dropAndReconnect(c));
    c.on('notification', (msg) => {
      if (msg.channel === channel && msg.payload !== undefined) onMessage?.(msg.payload);
    });
    await c.connect();
    await c.query(`LISTEN ${channel}`);
    delay = baseDelay;
    options.onConnect?.();
    return c;
  }

  function dropAndReconnect(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    c.removeAllListeners('notification');
    c.end().catch(() => {});
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      ensure().catch((e) => {
        options.onError?.(e);
        delay = Math.min(delay * 2, maxDelay);
        scheduleReconnect();
      });
    }, delay);
    timer.unref();
  }

  async function ensure(): Promise<pg.Client> {
    if (client) return client;
    if (!connecting) {
      connecting = connect().then(
        (c) => {
          connecting = undefined;
          if (closed) {
            c.end().catch(() => {});
            throw new Error('event transport closed');
          }
          client = c;
          return c;
        },
        (e) => {
          connecting = undefined;
          throw e;
        },
      );
    }
    return connecting;
  }

  return {
    channel,
    async start(handler) {
      onMessage = handler;
      try {
        await ensure();
      } catch (e) {
        // Start serving anyway; events still flow locally and LISTEN resumes when the database is back.
        options.onError?.(e);
        scheduleReconnect();
      }
    },
    async send(payload) {
      if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES)
        throw new Error('event payload too large for NOTIFY');
      const c = await ensure();
      await c.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c) await c.end().catch(() => {});
    },
  };
}
