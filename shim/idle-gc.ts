/**
 * The shim's idle collection (the quiet-period timer is pkg/idle-gc.ts's IdleCollector): a shim spends its life
 * waiting, and V8 only runs a full (old-generation) collection when the heap grows toward its limit, so the garbage of Bind, Create and Start (protobuf decoding, the OCI spec, the
 * runtime's set-up) would otherwise stay resident for the container's whole life. Once no request has arrived
 * for a while, one full collection frees it and gives the empty heap pages back to the kernel.
 *
 * Then glibc's malloc_trim(0) gives back what V8 freed through malloc (see collectAndTrim). This collection also
 * starts V8's memory reducer, which bin/berth-shim sets to run 1 s later (--gc-memory-reducer-start-delay-ms,
 * default 8 s): its memory-reducing collection shrinks the young generation and frees pooled pages, about 3 MiB
 * of a shim's 16 that a plain full collection keeps.
 *
 * Needs node's --expose-gc (bin/berth-shim passes it); without it this does nothing.
 */
import { mallocTrim } from '../native/sys/linux';
import { exposedGc } from '../pkg/idle-gc';

const gc = exposedGc;

/**
 * The idle collection: V8's full GC, then glibc's malloc_trim(0) to give back what V8 freed through malloc
 * (compiling and parsing at start-up leave freed zone memory in malloc's arenas, which glibc only returns from
 * the top of the heap on its own).
 */
export const collectAndTrim: (() => void) | undefined = gc
  ? () => {
      gc();
      try {
        mallocTrim();
      } catch {
        // not glibc, or koffi unavailable: the GC alone still ran
      }
    }
  : undefined;
