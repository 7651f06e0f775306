/**
 * @core/http: a service call over HTTP (`POST /api/v1/services/bench.set`, bearer token
 * checked, params validated by the registry, metrics middleware on) against a bare Fastify
 * route doing the same JSON-schema validation and returning the same result. Both servers run
 * in this process on 127.0.0.1; autocannon (its CLI, in a child process, so that it does not
 * share the servers' event loop) drives each with 10 connections, alternating the sides round
 * by round. Besides req/s, each figure has the server's CPU time per request (process.cpuUsage
 * of this process over the run), which the machine's load disturbs less than req/s. Issue 5 §7 target (same-run medians):
 * ≥ 0.7× the bare Fastify route. Measured here earlier: bare Fastify 37 k req/s, node:http 53 k.
 *
 * Run: `npx tsx tools/bench/src/run.ts http` (or `pnpm bench http`).
 */

import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { silentLogger } from '@core/contracts'
import { createHttpServer } from '@core/http'
import { createKernel } from '@core/kernel'
import Fastify from 'fastify'
import { emit, type Figure, ratio } from './measure.js'

const schema = {
  type: 'object',
  properties: {
    room: { type: 'string', minLength: 1, maxLength: 32 },
    on: { type: 'boolean' },
    level: { type: 'integer', minimum: 0, maximum: 100 },
  },
  required: ['room', 'on'],
  additionalProperties: false,
} as const

interface Params {
  room: string
  on: boolean
  level?: number
}
const handler = (p: Params) => ({ room: p.room, on: p.on, level: p.level ?? (p.on ? 100 : 0) })
const body = JSON.stringify({ room: 'kitchen', on: true, level: 40 })

const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 4)

export default async function httpBench(): Promise<void> {
  // ─── @core/http, auth on ────────────────────────────────────────────────────────────
  const kernel = createKernel({ logger: silentLogger })
  await kernel.start()
  kernel.services.register('bench.set', async (p: Params) => handler(p), {
    params: schema,
    description: 'bench',
  })
  const http = createHttpServer(kernel, { logger: silentLogger })
  const { token } = await http.tokens.create({ name: 'bench', scopes: ['services.call:bench.*'] })
  const core = await http.listen({ host: '127.0.0.1', port: 0 })

  // ─── bare Fastify: same schema (Fastify's Ajv), same result ───────────────────────────
  const bare = Fastify({ logger: false })
  bare.post('/bench/set', { schema: { body: schema } }, async (request) =>
    handler(request.body as Params),
  )
  await bare.listen({ host: '127.0.0.1', port: 0 })
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/bench/set`

  const sides: Record<string, { url: string; headers: Record<string, string> }> = {
    'http: POST /api/v1/services (auth on)': {
      url: `${core.url}/api/v1/services/bench.set`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    },
    'fastify: bare route, same schema': {
      url: bareUrl,
      headers: { 'content-type': 'application/json' },
    },
  }

  // Sanity: both answer 200 with the same body before anything is timed.
  for (const [name, side] of Object.entries(sides)) {
    const res = await fetch(side.url, { method: 'POST', headers: side.headers, body })
    const text = await res.text()
    if (res.status !== 200 || text !== JSON.stringify(handler(JSON.parse(body)))) {
      throw new Error(`${name} answered ${res.status} ${text}`)
    }
  }

  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((n) => [n, []]))
  const p99: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((n) => [n, []]))
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((n) => [n, []]))
  const names = Object.keys(sides)
  for (const n of names) await run(sides[n]!, 1) // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const result = await run(sides[n]!, SECONDS)
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
        throw new Error(
          `${n}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`,
        )
      }
      cpu[n]!.push(result.cpuUsPerRequest)
      rates[n]!.push(result.requests.average)
      p99[n]!.push(result.latency.p99)
    }
  }

  const figures: Record<string, Figure> = {}
  for (const n of names) {
    figures[n] = {
      name: n,
      ops_per_s: Math.round(median(rates[n]!)),
      samples: ROUNDS,
      p99_ms: median(p99[n]!),
      server_cpu_us_per_request: Math.round(median(cpu[n]!) * 10) / 10,
      connections: 10,
      seconds: SECONDS,
    }
    emit(figures[n]!)
  }
  ratio('http service call vs bare Fastify route', figures[names[0]!]!, figures[names[1]!]!, 0.7)

  await http.close()
  await bare.close()
  await kernel.stop()
}

interface CannonResult {
  requests: { average: number; total: number }
  latency: { p99: number }
  non2xx: number
  errors: number
  timeouts: number
}

const cannon = createRequire(import.meta.url).resolve('autocannon/autocannon.js')

/** One autocannon run (CLI in a child process); also returns this process's CPU µs per request. */
async function run(
  side: { url: string; headers: Record<string, string> },
  seconds: number,
): Promise<CannonResult & { cpuUsPerRequest: number }> {
  const args = [cannon, '--json', '-c', '10', '-d', String(seconds), '-m', 'POST', '-b', body]
  for (const [k, v] of Object.entries(side.headers)) args.push('-H', `${k}=${v}`)
  args.push(side.url)
  const cpu = process.cpuUsage()
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 10_000_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    )
  })
  const used = process.cpuUsage(cpu)
  const result = JSON.parse(out) as CannonResult
  return { ...result, cpuUsPerRequest: (used.user + used.system) / result.requests.total }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}
