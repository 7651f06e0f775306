/**
 * @core/state-engine (issue 2 §6): state `set` with its change event delivered to one watcher,
 * target at least 300,000 per second.
 *
 * - `set → watcher, one at a time`: set, then wait until the watcher has received that change,
 *   then the next set (the strictest reading: no overlap at all);
 * - `set → watcher, bursts of 100`: 100 sets issued back to back, then wait until the watcher
 *   has received the 100th change (every change reaches the watcher; writers do not wait for
 *   watchers, so this is the rate a producer sees);
 * - the same one-at-a-time run with a number value (no object to copy), to show what the
 *   value copy costs; plain `set` (object, number), `set` with a TTL and `get`, for context.
 *
 * Each figure is wall-clock ops/s (the official one, `ops_per_s`) plus `ops_per_cpu_s`: ops per
 * CPU-second of this process, which shows the code's own cost when the shared machine is busy
 * (wall-clock figures here drift 2x or more with the other work on the two cores).
 *
 * Run: `npx tsx tools/bench/src/run.ts state-engine` (or `pnpm bench state-engine`).
 */
import { type StateChange, silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createStateEngine } from '@core/state-engine'
import { emit, type Figure, type MeasureOptions, measure, type Operation } from './measure.js'

const TARGET_PER_S = 300_000
const BURST = 100

export default async function stateEngineBench(): Promise<void> {
  await delivered()
  await plain()
}

async function delivered(): Promise<void> {
  const bus = createEventBus({ logger: silentLogger })
  const state = createStateEngine({ bus, logger: silentLogger })
  let want = -1
  let wake: (() => void) | undefined
  state.watch('bench', 'light.*', (change) => {
    const value = change.value as { n: number } | number | undefined
    const n = typeof value === 'number' ? value : value?.n
    if (n === want && wake !== undefined) {
      const w = wake
      wake = undefined
      w()
    }
  })
  const until = (n: number): Promise<void> =>
    new Promise((resolve) => {
      want = n
      wake = resolve
    })
  let n = 0
  const strict = await timed(
    'state.set → 1 watcher, one at a time (awaited until delivered)',
    async () => {
      const i = n++
      const seen = until(i)
      await state.set('bench', 'light.one', { n: i, on: true, level: 42 })
      await seen
    },
    { batch: 20_000, rounds: 9, warmup: 2 },
  )
  const burst = await timed(
    `state.set → 1 watcher, bursts of ${BURST} (awaited until the last is delivered)`,
    async () => {
      for (let b = 1; b < BURST; b++) {
        void state.set('bench', 'light.burst', { n: n++, on: true, level: 42 })
      }
      const last = n++
      const seen = until(last)
      await state.set('bench', 'light.burst', { n: last, on: true, level: 42 })
      await seen
    },
    { batch: 200, rounds: 9, warmup: 2 },
    BURST,
  )
  const numbers = await timed(
    'state.set number → 1 watcher, one at a time (awaited until delivered)',
    async () => {
      const i = n++
      const seen = until(i)
      await state.set('bench', 'light.num', i)
      await seen
    },
    { batch: 20_000, rounds: 9, warmup: 2 },
  )
  for (const figure of [strict, burst, numbers]) {
    emit({ ...figure, target: TARGET_PER_S, met: figure.ops_per_s >= TARGET_PER_S })
  }
  await state.close()
}

async function plain(): Promise<void> {
  const bus = createEventBus({ logger: silentLogger })
  const state = createStateEngine({ bus, logger: silentLogger })
  // A watcher on another namespace: `set` pays a real publish that matches nobody here.
  bus.subscribe<StateChange>('state.elsewhere.#', () => {})
  await state.set('bench', 'read.me', { on: true, level: 42 })
  let n = 0
  const options: MeasureOptions = { batch: 20_000, rounds: 7, warmup: 2 }
  emit(
    await timed(
      'state.set small object, no watcher',
      () => state.set('bench', 'plain.obj', { n: n++, on: true, level: 42 }),
      options,
    ),
  )
  emit(
    await timed(
      'state.set number, no watcher',
      () => state.set('bench', 'plain.num', n++),
      options,
    ),
  )
  emit(
    await timed(
      'state.set with ttlMs (1,000 keys), no watcher',
      () => state.set('bench', `ttl.k${n++ % 1000}`, { on: true }, { ttlMs: 60_000 }),
      options,
    ),
  )
  emit(await timed('state.get', () => state.get('bench', 'read.me'), options))
  await state.close()
}

/**
 * `measure`, plus `ops_per_cpu_s` from this process's CPU time over the same run (warm-up
 * included). `scale` = operations per call of `op` (for bursts).
 */
async function timed(
  name: string,
  op: Operation,
  options: MeasureOptions,
  scale = 1,
): Promise<Figure> {
  let calls = 0
  const counted: Operation = () => {
    calls++
    return op()
  }
  const cpuBefore = process.cpuUsage()
  const figure = await measure(name, counted, options)
  const cpu = process.cpuUsage(cpuBefore)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  return {
    ...figure,
    ops_per_s: figure.ops_per_s * scale,
    ops_per_cpu_s: Math.round((calls * scale) / cpuSeconds),
    ...(scale === 1 ? {} : { burst: scale }),
  }
}
