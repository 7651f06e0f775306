import type { Encoded, ErrorJson } from './codec.js'

/** A function handle as it crosses: its id and whether the caller must block on it. @internal */
export interface FunctionRef {
  id: number
  sync: boolean
}

/** A synchronous call's request and reply (on the sync port). @internal */
export interface SyncRequest {
  id: number
  fn: number
  a: Encoded
}
/** @internal */
export interface SyncReply {
  id: number
  ok: boolean
  r?: Encoded
  e?: ErrorJson
}

/**
 * The handler context a service call hands the serving side (the service registry's
 * `ServiceContext`): its fields cross as data; `signal` is read only if the handler asks.
 * @internal
 */
export interface ServiceCallContext {
  readonly name: string
  readonly version: string
  readonly meta: unknown
  readonly caller: string | undefined
  readonly traceparent: string | undefined
  /** Epoch ms of the caller's registry clock. */
  readonly deadlineAt: number
  readonly signal: AbortSignal
}

/** What `createPeer` needs from its side. @internal */
export interface PeerOptions {
  /** Posts a message to the other side (may throw a DataCloneError). */
  post(message: unknown): void
  /** Rebuilds an error received from the other side. */
  makeError(json: ErrorJson): Error
  /** Whether a local function must be called synchronously by the other side. */
  isSync?(fn: (...args: unknown[]) => unknown): boolean
  /** Blocks until the other side answers a synchronous call (worker side only). */
  callSync?(request: Omit<SyncRequest, 'id'>): SyncReply
  /** Deep-freezes what arrives (the worker side, so plugins get frozen values). */
  freeze?: boolean
}

/** What `createPeer` returns. @internal */
export interface Peer {
  /** Encodes a value, turning functions into handles of this side. */
  exportValue(value: unknown, sigs?: number[]): Encoded
  /** Decodes a value from the other side, turning handles into stubs. */
  importValue(encoded: Encoded): unknown
  /** Calls the other side's function `fn`. */
  call(fn: number, args: unknown[]): Promise<unknown>
  /**
   * When `stub` is a function of the other side, a service handler `(params, context)` that
   * calls it by the service-call road (see `createPeer`); else undefined. The handler keeps
   * the stub (so the other side keeps its function) as long as it lives.
   */
  serviceHandler(
    stub: unknown,
  ): ((params: unknown, context: ServiceCallContext) => Promise<unknown>) | undefined
  /** Handles an RPC message; false when it is not one. */
  handle(message: unknown): boolean
  /** The local function behind handle `id`, and whether it was handed over as synchronous. */
  localFunction(id: unknown): { fn: (...args: unknown[]) => unknown; sync: boolean } | undefined
  /** Hands a local function over as a new handle. */
  exportFunction(fn: (...args: unknown[]) => unknown, sync: boolean): FunctionRef
  /** Rejects every call in flight with `error` and forgets every handle. */
  close(error: Error): void
  /** Live handles of this side (for tests and stats). */
  size(): number
}
