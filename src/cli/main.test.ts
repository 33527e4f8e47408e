import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const TASSEL = join(import.meta.dirname, '..', '..', 'bin', 'tassel.js');

test('a reader that closes the pipe early ends the command quietly (exit 0, nothing on stderr)', async () => {
  // 200,000 rows of CSV is far more than a pipe buffer: the writer is still writing when the reader leaves
  const child = spawn(process.execPath, [TASSEL, 'data', 'generate', '--rows', '200000', '--out', '-'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const firstLine = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) {
        child.stdout.off('data', onData);
        child.stdout.destroy();
        resolve(text.slice(0, text.indexOf('\n')));
      }
    };
    child.stdout.on('data', onData);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.match(firstLine, /^Student_ID,/);
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
