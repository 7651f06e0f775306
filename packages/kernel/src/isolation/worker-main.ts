import type * as WorkerThreads from 'node:worker_threads'
import type { Codec } from './codec.js'
import type { createPeer, SyncReply } from './peer.js'
import type { CallSync, pluginRuntime } from './plugin-runtime.js'

/** What the host hands a plugin worker at start (its `workerData`). @internal */
export interface WorkerBoot {
  /** `file:` URL of the plugin's entry module. */
  entryUrl: string
  /** The synchronous-call port (the host answers there, then notifies `flag`). */
  syncPort: WorkerThreads.MessagePort
  /** `Int32Array` over a SharedArrayBuffer: 1 when a synchronous reply is waiting. */
  flag: Int32Array
  /** How long a synchronous ctx call may block, ms. */
  syncTimeoutMs: number
}

/**
 * The plugin worker's entry: runs {@link pluginRuntime} on the worker's `parentPort`, with
 * synchronous ctx calls blocking on `Atomics.wait` until the host answers on the sync port.
 * Runs from its source text in a `worker_threads` Worker, so it is self-contained.
 * @internal
 */
export function workerMain(
  codec: Codec,
  makePeer: typeof createPeer,
  runtime: typeof pluginRuntime,
  wt: typeof WorkerThreads,
  importModule: (url: string) => Promise<Record<string, unknown>>,
): void {
  const boot = wt.workerData as WorkerBoot
  let seq = 0
  const makeCallSync =
    (makeError: (code: string, message: string) => Error): CallSync =>
    (request): SyncReply => {
      const id = ++seq
      Atomics.store(boot.flag, 0, 0)
      boot.syncPort.postMessage({ id, ...request })
      const deadline = Date.now() + boot.syncTimeoutMs
      for (;;) {
        const got = wt.receiveMessageOnPort(boot.syncPort)
        if (got !== undefined) {
          if ((got.message as SyncReply).id === id) return got.message as SyncReply
          continue // a late reply to a call that timed out
        }
        const left = deadline - Date.now()
        if (left <= 0) {
          throw makeError(
            'E_TIMEOUT',
            `A synchronous ctx call got no answer from the hub within ${boot.syncTimeoutMs} ms`,
          )
        }
        Atomics.wait(boot.flag, 0, 0, Math.min(left, 50))
        Atomics.store(boot.flag, 0, 0)
      }
    }
  runtime(
    codec,
    makePeer,
    wt.parentPort as WorkerThreads.MessagePort,
    makeCallSync,
    boot.entryUrl,
    importModule,
  )
}
