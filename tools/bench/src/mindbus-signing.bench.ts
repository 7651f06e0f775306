/**
 * MindBus with signed messages (issue 13 §3): the remote-call round trip with signing on vs off,
 * in one run against one RabbitMQ, at concurrency 1 and 64. Signing on means the command is
 * signed by the caller and verified by the server (HMAC-SHA256 over the RFC 8785 canonical
 * envelope, time window, replay store), and the result the same way back. Three sides:
 * unsigned; signed with the in-memory replay store; signed with the replay store on Redis (what a
 * hub with `CORE_REDIS_URL` uses: one `SET NX PX` per message), when Redis answers.
 *
 * Run: `npx tsx tools/bench/src/run.ts mindbus-signing` (or `pnpm bench mindbus-signing`).
 */
import { randomBytes } from 'node:crypto'
import type { MindBusSigningOptions } from '@core/mindbus'
import { createMemoryReplayStore, createRedisReplayStore, type SigningKey } from '@core/signing'
import { Redis } from 'ioredis'
import { compare, emit, type Figure, ratio } from './measure.js'
import { mindbusPair, reachable } from './mindbus-pair.js'
import { type Call, run, URL_ } from './mindbus-sides.js'

const REDIS = process.env.CORE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const KEYS: SigningKey[] = [
  { id: 'bench', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('hex') },
]

export default async function mindbusSigningBench(): Promise<void> {
  if (!(await reachable(URL_))) {
    emitSkip(`RabbitMQ not reachable at ${URL_}`)
    return
  }
  const redisUp = await reachable(REDIS, 6379)
  const redis = redisUp ? new Redis(REDIS) : undefined
  const signed = (replay: 'memory' | 'redis'): MindBusSigningOptions => ({
    keys: KEYS,
    keyId: 'bench',
    replay:
      replay === 'memory' || redis === undefined
        ? createMemoryReplayStore()
        : createRedisReplayStore({ redis, keyPrefix: `bench:${run}:replay:` }),
  })
  const sides: Record<string, { call: Call; close: () => Promise<void> }> = {
    unsigned: await pair('u', undefined),
    'signed memory replay': await pair('m', signed('memory')),
    ...(redis === undefined ? {} : { 'signed redis replay': await pair('r', signed('redis')) }),
  }
  try {
    const c1 = await compare(
      Object.fromEntries(Object.entries(sides).map(([k, v]) => [`mindbus ${k} c1`, v.call])),
      { batch: 200, rounds: 5, warmup: 1 },
    )
    const c64 = await waves(
      Object.fromEntries(Object.entries(sides).map(([k, v]) => [`mindbus ${k} c64`, v.call])),
      64,
      { waves: 20, rounds: 5 },
    )
    for (const f of Object.values(c1)) emit({ ...f, concurrency: 1 })
    for (const f of Object.values(c64)) emit(f)
    for (const c of ['c1', 'c64'] as const) {
      const figures = c === 'c1' ? c1 : c64
      const base = figures[`mindbus unsigned ${c}`] as Figure
      for (const side of Object.keys(sides).filter((s) => s !== 'unsigned')) {
        ratio(`mindbus ${side} / unsigned ${c}`, figures[`mindbus ${side} ${c}`] as Figure, base)
      }
    }
  } finally {
    for (const side of Object.values(sides)) await side.close()
    redis?.disconnect()
  }
}

/** Two MindBus nodes on their own topology (no priority queue), signed or not. */
function pair(
  name: string,
  signing: MindBusSigningOptions | undefined,
): ReturnType<typeof mindbusPair> {
  return mindbusPair(`bs${run}${name}`, {
    maxPriority: 0,
    ...(signing === undefined ? {} : { signing }),
  })
}

/**
 * Calls/s at `concurrency`: per round and side (alternating the order), `waves` waves of
 * `concurrency` calls at once; the median of the rounds, not rounded before scaling.
 */
async function waves(
  sides: Record<string, Call>,
  concurrency: number,
  options: { waves: number; rounds: number },
): Promise<Record<string, Figure>> {
  const names = Object.keys(sides)
  const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  const wave = (call: Call) => Promise.all(Array.from({ length: concurrency }, call))
  for (const n of names) await wave(sides[n] as Call)
  for (let r = 0; r < options.rounds; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const start = performance.now()
      for (let w = 0; w < options.waves; w++) await wave(sides[n] as Call)
      rates[n]?.push((options.waves * concurrency * 1000) / (performance.now() - start))
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const sorted = [...(rates[n] ?? [])].sort((a, b) => a - b)
      const median = sorted[sorted.length >> 1] ?? 0
      return [n, { name: n, ops_per_s: Math.round(median), samples: options.rounds, concurrency }]
    }),
  )
}

function emitSkip(reason: string): void {
  process.stdout.write(`${JSON.stringify({ skipped: 'mindbus-signing', reason })}\n`)
}
