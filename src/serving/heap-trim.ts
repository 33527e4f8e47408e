/** Size of the buffer {@link raiseHeapTrimThreshold} allocates: glibc keeps twice this much freed heap. */
const PROBE_BYTES = 16 * 1024 * 1024;

/**
 * Makes glibc's malloc keep up to 32 MiB of freed heap memory in this process instead of returning everything
 * past 128 KiB to the kernel, by allocating one 16 MiB buffer and dropping it.
 *
 * Why: a serving process mallocs each request body's bytes (Node's HTTP parser copies them into a new buffer,
 * ~54 kB a 100-row batch) and frees them when the GC collects them. With the default threshold the heap shrinks
 * (brk) and grows again many times a second, and every page it grows into is a fresh page: on a VM whose free
 * memory goes back to its host (free page reporting), a host fault each. With the prediction log on, the heap
 * churned more: 3.6-5 faults and +86 us of CPU per batch request against logging off in the same process; with
 * the threshold raised, 0.07-0.13 faults and no measurable cost (see docs/performance.md).
 *
 * How: glibc raises its mmap threshold to the size of a freed mmap-ed chunk (up to 32 MiB) and its trim threshold
 * to twice that (mallopt(3), "dynamic mmap threshold"); the buffer is mmap-ed, never touched, and freed by the
 * first GC that finds it dead. Thresholds set explicitly (GLIBC_TUNABLES glibc.malloc.trim_threshold, or
 * MALLOC_TRIM_THRESHOLD_) turn the adjustment off and win. Elsewhere (musl, macOS) it is one allocation freed.
 */
export function raiseHeapTrimThreshold(): void {
  Buffer.allocUnsafeSlow(PROBE_BYTES);
}
