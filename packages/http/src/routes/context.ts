import { CoreError } from '@core/contracts'
import type { Kernel } from '@core/kernel'
import type { FastifyRequest } from 'fastify'
import type { HttpMetrics } from '../metrics.js'
import type { EventReplayBuffer } from '../sse-replay.js'
import type { AuditedTokenStore } from '../token-audit.js'
import type { Principal } from '../tokens.js'

/** What the `/api` routes need. @internal */
export interface ApiContext {
  kernel: Kernel
  tokens: AuditedTokenStore
  metrics: HttpMetrics
  routeTimeoutMs: number
  reloadTimeoutMs: number
  heartbeatMs: number
  cancelOnDisconnect: boolean
  source: string
  streams: Set<() => void>
  /** Recent events, for SSE clients that reconnect with `Last-Event-ID`. */
  replay: EventReplayBuffer
}

/** The request property the auth hook sets. @internal */
export const PRINCIPAL = 'corePrincipal'

/** The principal the auth hook put on the request. @internal */
export function principalOf(request: FastifyRequest): Principal {
  return (request as unknown as Record<typeof PRINCIPAL, Principal>)[PRINCIPAL]
}

/**
 * Rejects with `E_TIMEOUT` when `work` takes longer than `ms` (the work itself goes on).
 * @internal
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new CoreError('E_TIMEOUT', `${what} took longer than ${ms} ms; try again later`, {
          details: { timeoutMs: ms },
        }),
      )
    }, ms)
    timer.unref()
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
