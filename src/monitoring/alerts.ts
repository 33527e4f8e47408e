import { createEventBus } from '../tracking/events/bus.js';
import { createWebhookDispatcher } from '../tracking/events/webhooks.js';

/**
 * Alerts: one log line per alert and a POST to every webhook URL, through the registry's webhook machinery
 * (same JSON envelope, X-Tassel-Signature HMAC with the same secret, retries with backoff), as event type
 * `monitoring_alert` with the window, its alerts and the action taken in `details`.
 */

export interface AlertMessage {
  model: string;
  version: string;
  details: Record<string, unknown>;
}

export interface Alerter {
  send(message: AlertMessage): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createAlerter}. */
export interface AlerterOptions {
  webhookUrls: string[];
  /** HMAC key (default $TASSEL_WEBHOOK_SECRET, as tassel server). */
  secret?: string;
  /** Where the log line goes (default stderr). */
  log?: (line: string) => void;
  /** Delivery attempts per URL (default 5). */
  maxAttempts?: number;
  baseDelayMs?: number;
}

/** Creates an alerter; deliveries finish before send() resolves, so a one-shot CLI run does not lose them. */
export async function createAlerter(options: AlerterOptions): Promise<Alerter> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bus = await createEventBus();
  const failures: string[] = [];
  const dispatcher =
    options.webhookUrls.length > 0
      ? createWebhookDispatcher(bus, {
          urls: options.webhookUrls,
          secret: options.secret ?? process.env.TASSEL_WEBHOOK_SECRET,
          maxAttempts: options.maxAttempts,
          baseDelayMs: options.baseDelayMs,
          onError: (e, _ev, url) => failures.push(`${url}: ${(e as Error)?.message ?? String(e)}`),
        })
      : null;
  return {
    async send(message) {
      const alerts = (message.details.alerts ?? []) as Array<{ message: string }>;
      log(
        `tassel monitor ALERT ${message.model} v${message.version} window ${String(message.details.window_index)}: ${alerts.map((a) => a.message).join('; ')}`,
      );
      await bus.publish([
        {
          type: 'monitoring_alert',
          name: message.model,
          version: message.version,
          timestamp: Date.now(),
          details: message.details,
        },
      ]);
      await dispatcher?.drain();
      for (const f of failures.splice(0)) log(`tassel monitor: alert webhook delivery failed: ${f}`);
    },
    async close() {
      await dispatcher?.close();
      await bus.close();
    },
  };
}
