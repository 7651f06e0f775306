import { type CloudEvent, CoreError, silentLogger } from '@core/contracts'
import {
  type CreateKernelOptions,
  createKernel,
  type InlinePlugin,
  type Kernel,
  type PluginContext,
} from '@core/kernel'
import Type from 'typebox'
import { afterEach, vi } from 'vitest'
import { type CreateHttpServerOptions, createHttpServer, type HttpServer } from '../src/index.js'

export const ADMIN_TOKEN = '5d0c2b9e8f41a7c36e9b02d4f1a85c7e3b6d90f2a4c81e57d3b09f6a2e4c817b'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** What `lights.wait` saw: calls started, abort reasons (CoreError codes). */
export const waits: { started: number; reasons: string[] } = { started: 0, reasons: [] }

/** The `lights` plugin of the tests: `lights.set`, `lights.fail`, `lights.slow`, `lights.echo`. */
export const lightsPlugin: InlinePlugin = {
  manifest: { name: 'lights', coreApi: '^1.0.0', description: 'Test lights' },
  version: '1.2.3',
  plugin: {
    setup(ctx: PluginContext) {
      ctx.services.register(
        'lights.set',
        async (params: { room: string; on: boolean; level?: number }) => ({
          room: params.room,
          on: params.on,
          level: params.level ?? (params.on ? 100 : 0),
        }),
        {
          version: '2.0.0',
          description: 'Switches the lights of a room',
          params: Type.Object(
            {
              room: Type.String({ minLength: 1, maxLength: 32 }),
              on: Type.Boolean(),
              level: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
            },
            { additionalProperties: false },
          ),
          result: Type.Object({ room: Type.String(), on: Type.Boolean(), level: Type.Integer() }),
        },
      )
      ctx.services.register(
        'lights.fail',
        async (params: { code: string }) => {
          throw new CoreError(params.code as 'E_CONFLICT', `failing with ${params.code}`)
        },
        { params: Type.Object({ code: Type.String() }) },
      )
      ctx.services.register(
        'lights.slow',
        (_params: unknown, context) =>
          new Promise((resolve) => {
            const t = setTimeout(() => resolve('late'), 5_000)
            context.signal.addEventListener('abort', () => {
              clearTimeout(t)
              resolve('aborted')
            })
          }),
        { params: {}, timeoutMs: 100, description: 'Never answers in time' },
      )
      ctx.services.register('lights.echo', async (params: unknown) => params, { params: {} })
      ctx.services.register(
        'lights.wait',
        (_params: unknown, context) =>
          new Promise((resolve) => {
            waits.started++
            context.signal.addEventListener('abort', () => {
              waits.reasons.push(
                CoreError.is(context.signal.reason) ? context.signal.reason.code : 'other',
              )
              resolve(null)
            })
          }),
        { params: {}, timeoutMs: 10_000, description: 'Answers only when aborted' },
      )
    },
  },
}

export interface Hub {
  kernel: Kernel
  http: HttpServer
  url: string
  /** fetch with the admin token (or `token`), JSON body when given. */
  call(path: string, init?: CallInit): Promise<Response>
}

export interface CallInit {
  method?: string
  body?: unknown
  token?: string | null
  headers?: Record<string, string>
}

/** A started kernel with the lights plugin and an HTTP server listening on 127.0.0.1:0. */
export async function startHub(
  options: CreateHttpServerOptions = {},
  kernelOptions: CreateKernelOptions = {},
): Promise<Hub> {
  const kernel = createKernel({ logger: silentLogger, plugins: [lightsPlugin], ...kernelOptions })
  await kernel.start()
  cleanups.push(() => kernel.stop())
  const http = createHttpServer(kernel, {
    adminToken: ADMIN_TOKEN,
    logger: silentLogger,
    ...options,
  })
  cleanups.push(() => http.close())
  const { url } = await http.listen({ host: '127.0.0.1', port: 0 })
  const call = (path: string, init: CallInit = {}): Promise<Response> => {
    const headers: Record<string, string> = { ...init.headers }
    const token = init.token === undefined ? ADMIN_TOKEN : init.token
    if (token !== null) headers.authorization = `Bearer ${token}`
    let body: string | undefined
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body)
      headers['content-type'] ??= 'application/json'
    }
    return fetch(`${url}${path}`, { method: init.method ?? 'GET', headers, body })
  }
  return { kernel, http, url, call }
}

/** Registers a cleanup to run after the test. */
export function onCleanup(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup)
}

/**
 * Waits until `condition()` holds: `vi.waitFor` polling every 5 ms, at most `timeoutMs` (for the
 * SSE tests, whose streams are checked by many such waits).
 */
export function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
): Promise<void> {
  return vi.waitFor(
    async () => {
      if (!(await condition())) throw new Error('condition not met in time')
    },
    { timeout: timeoutMs, interval: 5 },
  )
}

export interface Frame {
  event?: string
  id?: string
  data?: string
  comment?: string
}

/** Opens an SSE stream with fetch and parses its frames as they arrive. */
export async function openStream(
  hub: Hub,
  query: string,
  token = ADMIN_TOKEN,
  headers: Record<string, string> = {},
) {
  const controller = new AbortController()
  const res = await fetch(`${hub.url}/api/v1/events${query}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  })
  const frames: Frame[] = []
  let ended = false
  if (res.status === 200 && res.body !== null) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          buffer += value
          let cut = buffer.indexOf('\n\n')
          while (cut >= 0) {
            const frame: Frame = {}
            for (const line of buffer.slice(0, cut).split('\n')) {
              if (line.startsWith(':')) frame.comment = line.slice(1).trim()
              else {
                const colon = line.indexOf(':')
                const field = line.slice(0, colon) as keyof Frame
                frame[field] = line.slice(colon + 1).replace(/^ /, '')
              }
            }
            frames.push(frame)
            buffer = buffer.slice(cut + 2)
            cut = buffer.indexOf('\n\n')
          }
        }
      } catch {
        // aborted
      } finally {
        ended = true
      }
    })()
  }
  return {
    res,
    frames,
    events: (): CloudEvent[] =>
      frames.filter((f) => f.data !== undefined).map((f) => JSON.parse(f.data as string)),
    ended: () => ended,
    close: () => controller.abort(),
  }
}
