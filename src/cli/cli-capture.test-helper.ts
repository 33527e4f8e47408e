import { main } from './main.js';

/**
 * Runs the CLI in-process and captures what Tassel's own code prints (the test runner's asynchronous
 * report still goes to the real stdout).
 */
export async function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = { stdout: '', stderr: '' };
  const fromTassel = () => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 80;
    const frames = (new Error().stack ?? '').split('\n').slice(3);
    Error.stackTraceLimit = limit;
    return frames.some(
      (f) => /[\\/]src[\\/](cli|data|ml|features)[\\/][\w-]+\.ts/.test(f) && !f.includes('.test.ts'),
    );
  };
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const original = originals[name];
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (!fromTassel()) return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      captured[name] += String(chunk);
      return true;
    }) as typeof stream.write;
  }
  try {
    const code = await main(['node', 'tassel', ...args]);
    return { code, ...captured };
  } finally {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
  }
}
