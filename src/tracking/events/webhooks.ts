import { createHmac } from 'node:crypto';
import type { EventBus, RegistryEvent } from './bus.js';

export interface WebhookOptions {
  urls: string[];
  /** HMAC-SHA256 key; when set, every POST carries `X-Tassel-Signature: sha256=<hex of HMAC(body)>`. */
  secret?: string;
  /** Attempts per delivery, the first included. Default 5. */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time (with jitter). Default 500 ms. */
  baseDelayMs?: number;
  /** Per-attempt timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Deliveries waiting or in flight beyond this are dropped (and reported), so memory stays bounded. */
  maxQueue?: number;
  onError?: (error: unknown, event: RegistryEvent, url: string) => void;
  fetch?: typeof fetch;
}

/** The signature header value for a webhook body. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface WebhookDispatcher {
  /** Resolves when every delivery started so far has finished (delivered or given up). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * POSTs every change that originated on this replica (so N replicas do not send N copies) to each URL
 * as JSON, retried with exponential backoff on network errors and 5xx/429, never blocking the request
 * that made the change.
 */
export function createWebhookDispatcher(bus: EventBus, options: WebhookOptions): WebhookDispatcher {
  const doFetch = options.fetch ?? fetch;
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelay = options.baseDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxQueue = options.maxQueue ?? 1000;
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  async function deliver(event: RegistryEvent, url: string): Promise<void> {
    const { id: _localId, ...wire } = event;
    const body = JSON.stringify(wire);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'tassel-webhooks',
      'x-tassel-event': event.type,
      'x-tassel-delivery': event.uid,
    };
    if (options.secret) headers['x-tassel-signature'] = signWebhookBody(options.secret, body);
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts && !closed; attempt++) {
      try {
        const res = await doFetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        lastError = new Error(`webhook ${url} answered ${res.status}`);
        // A 4xx other than 408/429 will not get better by retrying.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } catch (e) {
        lastError = e;
      }
      if (attempt < maxAttempts && !closed) {
        const wait = baseDelay * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
    options.onError?.(lastError, event, url);
  }

  const unsubscribe = bus.subscribe((event, meta) => {
    if (!meta.local || closed) return;
    for (const url of options.urls) {
      if (inFlight.size >= maxQueue) {
        options.onError?.(new Error('webhook queue full; delivery dropped'), event, url);
        continue;
      }
      const p = deliver(event, url).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  });

  return {
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async close() {
      closed = true;
      unsubscribe();
      await Promise.allSettled([...inFlight]);
    },
  };
}
