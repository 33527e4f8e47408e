import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { EventBus, RegistryEvent } from './bus.js';

export interface EventsPluginOptions {
  bus: EventBus;
  /** Interval of `: heartbeat` comments that keep proxies from closing an idle stream. Default 15 s. */
  heartbeatMs?: number;
  /** Most concurrent streams; beyond it new subscribers get 503 TEMPORARILY_UNAVAILABLE. Default 1000. */
  maxStreams?: number;
  /** Route prefixes; default the REST and ajax prefixes. */
  prefixes?: string[];
}

/** Path of the stream under each prefix. */
export const EVENTS_PATH = '/tassel/events';

function matches(
  event: RegistryEvent,
  filter: { name?: string; alias?: string; types?: Set<string> },
): boolean {
  if (filter.name !== undefined && event.name !== filter.name) return false;
  if (filter.alias !== undefined && event.alias !== filter.alias) return false;
  if (filter.types && !filter.types.has(event.type)) return false;
  return true;
}

function frame(event: RegistryEvent): string {
  const { id, ...data } = event;
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify({ id, ...data })}\n\n`;
}

/**
 * `GET /api/2.0/tassel/events`: a server-sent-events stream of registry changes, optionally filtered by
 * `name`, `alias` and `types` (comma-separated); `Last-Event-ID` (or `last_event_id`) replays the buffered
 * events the client missed on this replica.
 */
export const eventsPlugin: FastifyPluginAsync<EventsPluginOptions> = async (app: FastifyInstance, opts) => {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxStreams = opts.maxStreams ?? 1000;
  const prefixes = opts.prefixes ?? ['/api/2.0', '/ajax-api/2.0'];
  const open = new Set<ServerResponse>();

  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });

  for (const prefix of prefixes) {
    app.get(
      `${prefix}${EVENTS_PATH}`,
      {
        schema: {
          querystring: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              alias: { type: 'string' },
              types: { type: 'string' },
              last_event_id: { type: 'string' },
            },
          },
        },
      },
      async (request, reply) => {
        const q = request.query as { name?: string; alias?: string; types?: string; last_event_id?: string };
        if (open.size >= maxStreams) {
          reply
            .code(503)
            .send({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'Too many event streams open.' });
          return reply;
        }
        const filter = {
          name: q.name || undefined,
          alias: q.alias || undefined,
          types: q.types ? new Set(q.types.split(',').map((t) => t.trim())) : undefined,
        };
        const lastHeader = request.headers['last-event-id'];
        const lastRaw = (Array.isArray(lastHeader) ? lastHeader[0] : lastHeader) ?? q.last_event_id;
        const lastEventId = lastRaw !== undefined && /^\d+$/.test(lastRaw) ? Number(lastRaw) : undefined;

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.write(`retry: 2000\n: connected last_id=${opts.bus.lastId()}\n\n`);
        open.add(res);
        const unsubscribe = opts.bus.subscribe(
          (event) => {
            if (matches(event, filter)) res.write(frame(event));
          },
          lastEventId !== undefined ? { lastEventId } : undefined,
        );
        const heartbeat = setInterval(() => res.write(`: heartbeat ${Date.now()}\n\n`), heartbeatMs);
        heartbeat.unref();
        const cleanup = () => {
          clearInterval(heartbeat);
          unsubscribe();
          open.delete(res);
        };
        request.raw.on('close', cleanup);
        res.on('close', cleanup);
        res.on('error', cleanup);
      },
    );
  }
};
