import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  ?.glibcVersionRuntime;

/** This environment without malloc settings, which would turn glibc's dynamic thresholds off. */
function withoutMallocSettings(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env))
    if (key === 'GLIBC_TUNABLES' || key.startsWith('MALLOC_')) delete env[key];
  return env;
}

/**
 * Page faults of allocating and touching 60 buffers of 100 KiB (below glibc's default mmap threshold, so from the
 * heap) again after the same 6 MiB were freed: a child process, with or without raiseHeapTrimThreshold first.
 */
function refaults(raise: boolean): number {
  const module = fileURLToPath(new URL('./heap-trim.ts', import.meta.url));
  const script = `
    import { readFileSync } from 'node:fs';
    import { raiseHeapTrimThreshold } from ${JSON.stringify(module)};
    const faults = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
    if (${raise}) raiseHeapTrimThreshold();
    gc(); gc();
    const fill = () => Array.from({ length: 60 }, () => Buffer.allocUnsafeSlow(100 * 1024).fill(1));
    let held = fill();
    held = null; gc(); gc();
    const before = faults();
    held = fill();
    console.log(faults() - before);`;
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8', env: withoutMallocSettings() },
  );
  assert.equal(child.status, 0, child.stderr);
  return Number(child.stdout.trim());
}

test('raiseHeapTrimThreshold: heap memory freed is kept and reused, not returned and faulted in again', (t) => {
  if (process.platform !== 'linux' || glibc === undefined)
    return t.skip('glibc only (its dynamic mmap threshold); elsewhere the call is one allocation freed');
  const without = refaults(false);
  const withIt = refaults(true);
  console.log(
    `# page faults re-filling 6 MiB of freed heap: ${without} by default, ${withIt} after the call`,
  );
  assert.ok(
    without > 1000,
    `by default glibc returns the freed 6 MiB and faults it in again (${without} faults)`,
  );
  assert.ok(withIt < 100, `after the call the memory is kept (${withIt} faults)`);
});
