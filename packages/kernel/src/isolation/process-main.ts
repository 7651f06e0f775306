import type * as Fs from 'node:fs'
import type * as V8 from 'node:v8'
import type { Codec } from './codec.js'
import type { createPeer, SyncReply } from './peer.js'
import type { CallSync, pluginRuntime } from './plugin-runtime.js'

/** What the host hands a plugin process at start (written into its source). @internal */
export interface ProcessBoot {
  /** `file:` URL of the plugin's entry module. */
  entryUrl: string
  /** The file descriptor of the synchronous-call socket (a socketpair end, blocking). */
  syncFd: number
  /** How long a synchronous ctx call may wait when the socket is not blocking, ms. */
  syncTimeoutMs: number
}

/**
 * The plugin process's entry: runs {@link pluginRuntime} on the IPC channel
 * (`process.send` / `process.on('message')`, advanced serialization). A synchronous ctx call
 * writes a length-prefixed `v8.serialize` frame to the sync socket and blocks in
 * `fs.readSync` until the host's answer arrives: there is no shared memory between processes,
 * but a blocking read on a socketpair does the same job. Runs from its source text
 * (`node -e`), so it is self-contained.
 * @internal
 */
export function processMain(
  codec: Codec,
  makePeer: typeof createPeer,
  runtime: typeof pluginRuntime,
  proc: NodeJS.Process,
  fs: typeof Fs,
  v8: typeof V8,
  boot: ProcessBoot,
  importModule: (url: string) => Promise<Record<string, unknown>>,
): void {
  const send = proc.send?.bind(proc)
  if (send === undefined) throw new Error('a plugin process needs an IPC channel')
  // The hub went away: nothing is left to serve.
  proc.on('disconnect', () => proc.exit(0))
  proc.on('uncaughtException', (error) => {
    const e = codec.errorJson(error)
    try {
      send({ t: 'fatal', e }, undefined, undefined, () => proc.exit(70))
    } catch {
      proc.exit(70)
    }
  })
  const nap = new Int32Array(new SharedArrayBuffer(4))
  let seq = 0
  const makeCallSync = (makeError: (code: string, message: string) => Error): CallSync => {
    const deadlineOf = (): number => Date.now() + boot.syncTimeoutMs
    /** Waits a little when the socket is non-blocking (EAGAIN), up to the deadline. */
    const again = (error: unknown, deadline: number): void => {
      if ((error as { code?: string }).code !== 'EAGAIN') throw error
      if (Date.now() > deadline)
        throw makeError(
          'E_TIMEOUT',
          `A synchronous ctx call got no answer from the hub within ${boot.syncTimeoutMs} ms`,
        )
      Atomics.wait(nap, 0, 0, 1)
    }
    const readExact = (n: number, deadline: number): Buffer => {
      const buf = Buffer.alloc(n)
      let off = 0
      while (off < n) {
        try {
          const got = fs.readSync(boot.syncFd, buf, off, n - off, null)
          if (got === 0) throw makeError('E_UNAVAILABLE', 'The hub closed the synchronous channel')
          off += got
        } catch (error) {
          again(error, deadline)
        }
      }
      return buf
    }
    return (request): SyncReply => {
      const id = ++seq
      const body = v8.serialize({ id, ...request })
      const frame = Buffer.alloc(4 + body.length)
      frame.writeUInt32BE(body.length, 0)
      body.copy(frame, 4)
      const deadline = deadlineOf()
      let off = 0
      while (off < frame.length) {
        try {
          off += fs.writeSync(boot.syncFd, frame, off, frame.length - off)
        } catch (error) {
          again(error, deadline)
        }
      }
      for (;;) {
        const len = readExact(4, deadline).readUInt32BE(0)
        const reply = v8.deserialize(readExact(len, deadline)) as SyncReply
        if (reply?.id === id) return reply
      }
    }
  }
  runtime(
    codec,
    makePeer,
    {
      postMessage: (m) => {
        send(m)
      },
      on: (_event, handler) => proc.on('message', handler),
    },
    makeCallSync,
    boot.entryUrl,
    importModule,
  )
}
