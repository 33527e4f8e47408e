import assert from 'node:assert/strict';
import type { RegistryEvent } from './bus.js';

/** Reads SSE frames from a server until `until` accepts one; rejects after `timeoutMs`. */
export async function waitForEvent(
  url: string,
  until: (e: RegistryEvent) => boolean,
  options: { timeoutMs?: number; headers?: Record<string, string>; onOpen?: () => void | Promise<void> } = {},
): Promise<{ event: RegistryEvent; elapsedMs: number }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 5000);
  try {
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...(options.headers ?? {}) },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let opened = false;
    let start = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (!opened) {
          opened = true;
          start = performance.now();
          await options.onOpen?.();
        }
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const event = JSON.parse(data.slice(6)) as RegistryEvent;
        if (until(event)) {
          await reader.cancel();
          return { event, elapsedMs: performance.now() - start };
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
