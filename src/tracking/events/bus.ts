import { randomUUID } from 'node:crypto';
import type { RegistryChangeType } from '../registry/store.js';

/** A registry change as sent on the SSE stream, over NOTIFY and to webhooks. */
export interface RegistryEvent {
  /** Per-process sequence number (the SSE `id:`); used for Last-Event-ID resumption on this replica. */
  id: number;
  /** Globally unique id of the change, the same on every replica. */
  uid: string;
  type: RegistryChangeType;
  name: string;
  alias?: string;
  version?: string;
  previous_version?: string;
  /** For stage_transitioned: the stage entered and the stage left. */
  stage?: string;
  previous_stage?: string;
  principal?: string;
  /** For monitoring_alert: the window, the alerts and the action taken. */
  details?: Record<string, unknown>;
  /** Milliseconds since the epoch when the change was committed. */
  timestamp: number;
}

/** An event before the bus numbers it. */
export type RegistryEventInput = Omit<RegistryEvent, 'id' | 'uid'> & { uid?: string };

export type EventListener = (event: RegistryEvent, meta: { local: boolean }) => void;

/**
 * Carries events between replicas (PostgreSQL LISTEN/NOTIFY). `send` publishes one serialized event to
 * every replica including this one; `start` begins delivering received payloads.
 */
export interface EventTransport {
  /**
   * The PostgreSQL NOTIFY channel, when events can instead be sent inside the writing transaction
   * (`SELECT pg_notify(channel, payload)`), so other replicas hear of a change exactly when it commits.
   */
  readonly channel?: string;
  send(payload: string): Promise<void>;
  start(onMessage: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** How many recent events are kept for Last-Event-ID resumption. Default 1000. */
  ringSize?: number;
  /** Cross-replica transport; without it events stay in this process. */
  transport?: EventTransport;
  /** Called when a transport send fails (the local delivery has already happened). */
  onError?: (error: unknown) => void;
}

export interface EventBus {
  /**
   * Delivers to local subscribers at once, then forwards to other replicas through the transport
   * (skipped with `alreadySent`, for events NOTIFYed inside their transaction).
   */
  publish(events: RegistryEventInput[], options?: { alreadySent?: boolean }): Promise<void>;
  /** The NOTIFY channel of the transport, if writers may notify inside their transaction. */
  readonly notifyChannel?: string;
  /** The wire form of an event (what the transport carries); assigns a uid when missing. */
  serialize(event: RegistryEventInput): { uid: string; payload: string };
  /** Subscribes; with `lastEventId`, first replays buffered events newer than it. Returns unsubscribe. */
  subscribe(listener: EventListener, options?: { lastEventId?: number }): () => void;
  /** Buffered events with id > `afterId`, oldest first. */
  since(afterId: number): RegistryEvent[];
  /** The id of the newest event seen so far (0 when none). */
  lastId(): number;
  listenerCount(): number;
  close(): Promise<void>;
}

/** Creates an event bus: an in-memory ring plus an optional cross-replica transport. */
export async function createEventBus(options: EventBusOptions = {}): Promise<EventBus> {
  const ringSize = options.ringSize ?? 1000;
  const ring: RegistryEvent[] = [];
  const listeners = new Set<EventListener>();
  // Uids already delivered, so the echo of our own NOTIFY (and duplicates) are dropped.
  const seen = new Set<string>();
  const seenOrder: string[] = [];
  let seq = 0;

  function remember(uid: string): boolean {
    if (seen.has(uid)) return false;
    seen.add(uid);
    seenOrder.push(uid);
    if (seenOrder.length > ringSize * 4) seen.delete(seenOrder.shift()!);
    return true;
  }

  function deliver(input: RegistryEventInput & { uid: string }, local: boolean): RegistryEvent | undefined {
    if (!remember(input.uid)) return undefined;
    const event: RegistryEvent = { ...input, id: ++seq };
    ring.push(event);
    if (ring.length > ringSize) ring.shift();
    for (const l of [...listeners]) {
      try {
        l(event, { local });
      } catch (e) {
        options.onError?.(e);
      }
    }
    return event;
  }

  const transport = options.transport;
  if (transport) {
    await transport.start((payload) => {
      let parsed: RegistryEventInput & { uid: string };
      try {
        parsed = JSON.parse(payload);
      } catch (e) {
        options.onError?.(e);
        return;
      }
      if (typeof parsed?.uid !== 'string' || typeof parsed.type !== 'string') return;
      deliver(parsed, false);
    });
  }

  return {
    notifyChannel: transport?.channel,
    serialize(event) {
      const uid = event.uid ?? randomUUID();
      return { uid, payload: JSON.stringify({ ...event, uid }) };
    },
    async publish(events, publishOptions) {
      const sent: Array<RegistryEventInput & { uid: string }> = [];
      for (const e of events) {
        const withUid = { ...e, uid: e.uid ?? randomUUID() };
        if (deliver(withUid, true)) sent.push(withUid);
      }
      if (!transport || publishOptions?.alreadySent) return;
      for (const e of sent) {
        try {
          await transport.send(JSON.stringify(e));
        } catch (err) {
          options.onError?.(err);
        }
      }
    },
    subscribe(listener, opts) {
      if (opts?.lastEventId !== undefined) {
        for (const e of ring) if (e.id > opts.lastEventId) listener(e, { local: false });
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    since(afterId) {
      return ring.filter((e) => e.id > afterId);
    },
    lastId: () => seq,
    listenerCount: () => listeners.size,
    async close() {
      listeners.clear();
      await transport?.close();
    },
  };
}
