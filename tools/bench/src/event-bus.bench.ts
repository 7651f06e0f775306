/**
 * @core/event-bus against its peers, every side measured in this run, alternating (issue 2 §6):
 * - exact-topic publish, envelope built, one async subscriber, awaited — vs mitt emit, Node's
 *   EventEmitter emit, emittery's awaited emit and Moleculer's local emit (awaited);
 * - publish with 1,000 and 10,000 patterns of a realistic mix (a quarter each: exact, one `*`,
 *   trailing `#`, leading `#` such as `#.battery7`) — vs eventemitter2 with the same patterns
 *   (`#` → `**`, wildcard: true, delimiter '.') and a bare qlobber match;
 * - the same with every topic new to the bus (its match cache never hits), for honesty.
 *
 * Run: `npx tsx tools/bench/src/run.ts event-bus` (or `pnpm bench event-bus`).
 */
import { EventEmitter } from 'node:events'
import { createEventBus } from '@core/event-bus'
import Emittery from 'emittery'
import eventemitter2 from 'eventemitter2'
import mittModule from 'mitt'
import { ServiceBroker } from 'moleculer'
import { Qlobber } from 'qlobber'
import { compare, emit, type Figure, ratio } from './measure.js'

const { EventEmitter2 } = eventemitter2
// mitt's types are read as CommonJS under NodeNext (no "type": "module"), but Node loads its ESM
// build, whose default export is the factory itself.
const mitt = mittModule as unknown as typeof mittModule.default

export default async function eventBusBench(): Promise<void> {
  await exactTopic()
  await wildcards(1_000)
  await wildcards(10_000)
}

async function exactTopic(): Promise<void> {
  const topic = 'bench.light.changed'
  const payload = { on: true, level: 42 }
  let received = 0

  const bus = createEventBus()
  bus.subscribe(topic, async () => {
    received++
  })
  const emitter = mitt<Record<string, unknown>>()
  emitter.on(topic, () => {
    received++
  })
  const node = new EventEmitter()
  node.on(topic, () => {
    received++
  })
  const emittery = new Emittery()
  emittery.on(topic, async () => {
    received++
  })
  const broker = new ServiceBroker({ logger: false })
  broker.createService({
    name: 'sink',
    events: {
      // async, like the bus's subscriber: Moleculer's emit awaits its handlers' promises.
      async [topic]() {
        received++
      },
    },
  })
  await broker.start()

  const f = await compare(
    {
      'event-bus publish, exact topic, 1 async subscriber, awaited': () =>
        bus.publish(topic, payload),
      'emittery emit awaited': () => emittery.emit(topic, payload),
      'moleculer local emit awaited': () => broker.emit(topic, payload),
      'mitt emit': () => emitter.emit(topic, payload),
      'node EventEmitter emit': () => node.emit(topic, payload),
    },
    { batch: 20_000, rounds: 9, warmup: 3 },
  )
  await broker.stop()
  for (const figure of Object.values(f)) emit(figure)
  const ours = f['event-bus publish, exact topic, 1 async subscriber, awaited'] as Figure
  ratio('exact publish / emittery awaited emit', ours, f['emittery emit awaited'] as Figure, 2)
  ratio(
    'exact publish / moleculer local emit',
    ours,
    f['moleculer local emit awaited'] as Figure,
    2,
  )
  ratio('exact publish / mitt emit', ours, f['mitt emit'] as Figure)
  ratio('exact publish / node EventEmitter emit', ours, f['node EventEmitter emit'] as Figure)
  if (received === 0) throw new Error('no handler ran: the benchmark is broken')
}

async function wildcards(count: number): Promise<void> {
  const { patterns, topics } = workload(count, 64)
  let received = 0
  const bus = createEventBus()
  for (const pattern of patterns) {
    bus.subscribe(pattern, async () => {
      received++
    })
  }
  const ee2 = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 })
  for (const pattern of patterns) {
    ee2.on(
      pattern
        .split('.')
        .map((w) => (w === '#' ? '**' : w))
        .join('.'),
      () => {
        received++
      },
    )
  }
  const trie = new Qlobber({ separator: '.', wildcard_one: '*', wildcard_some: '#' })
  for (const pattern of patterns) trie.add(pattern, pattern)

  // Mean number of matching patterns per topic (the bus delivers to each).
  const fanout = topics.reduce((n, t) => n + trie.match(t).length, 0) / topics.length
  let i = 0
  let j = 0
  let k = 0
  const ours = `event-bus publish, ${count} patterns, awaited`
  const peer = `eventemitter2 emit, ${count} patterns`
  const bare = `qlobber match, ${count} patterns`
  const f = await compare(
    {
      [ours]: () => bus.publish(topics[i++ & 63] as string, i),
      [bare]: () => trie.match(topics[j++ & 63] as string),
    },
    { batch: 5_000, rounds: 7, warmup: 2 },
  )
  // eventemitter2 manages a few thousand emits/s with these patterns: smaller batches, and
  // our side measured again in the same batches, alternating.
  const oursSmall = `${ours} (batches of eventemitter2's size)`
  const small = count > 1_000 ? 40 : 400
  const g = await compare(
    {
      [peer]: () => ee2.emit(topics[k++ & 63] as string, k),
      [oursSmall]: () => bus.publish(topics[i++ & 63] as string, i),
    },
    { batch: small, rounds: 5, warmup: 1 },
  )
  for (const figure of [f[ours], f[bare], g[oursSmall], g[peer]])
    emit({ ...(figure as Figure), fanout })
  ratio(
    `publish / eventemitter2 emit, ${count} patterns`,
    g[oursSmall] as Figure,
    g[peer] as Figure,
    count === 1_000 ? 10 : undefined,
  )
  ratio(
    `publish / qlobber match, ${count} patterns`,
    f[ours] as Figure,
    f[bare] as Figure,
    count === 10_000 ? 0.3 : undefined,
  )

  // Every topic new to the bus: 20,000 distinct topics cycle through a 10,000-entry cache,
  // so each publish validates the topic and walks the trie. For honesty, not a target.
  const cold = workload(count, 20_000).topics
  let c = 0
  let d = 0
  const coldOurs = `event-bus publish, ${count} patterns, uncached topics, awaited`
  const coldBare = `qlobber match, ${count} patterns, same topics`
  const h = await compare(
    {
      [coldOurs]: () => bus.publish(cold[c++ % cold.length] as string, c),
      [coldBare]: () => trie.match(cold[d++ % cold.length] as string),
    },
    { batch: 5_000, rounds: 5, warmup: 4 },
  )
  emit(h[coldOurs] as Figure)
  emit(h[coldBare] as Figure)
  ratio(
    `uncached publish / qlobber match, ${count} patterns`,
    h[coldOurs] as Figure,
    h[coldBare] as Figure,
  )
  if (received === 0) throw new Error('no handler ran: the benchmark is broken')
}

/**
 * `count` patterns, a quarter of each kind, over 4-word topics `ns<a>.dev<b>.room<c>.attr<d>`,
 * and `topics` distinct topics drawn from the same words (deterministic).
 */
function workload(count: number, topicCount: number): { patterns: string[]; topics: string[] } {
  let seed = 42
  const rand = (n: number): number => {
    // mulberry32: 32-bit integer arithmetic, so the sequence is exact
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) % n
  }
  const quarter = count / 4
  const ns = (): string => `ns${rand(20)}`
  const dev = (): string => `dev${rand(Math.max(10, Math.round(quarter / 20)))}`
  const room = (): string => `room${rand(10)}`
  const attr = (): string => `attr${rand(quarter)}`
  const patterns: string[] = []
  for (let n = 0; n < quarter; n++) {
    patterns.push(`${ns()}.${dev()}.${room()}.${attr()}`)
    patterns.push(`${ns()}.*.${room()}.${attr()}`)
    patterns.push(`${ns()}.${dev()}.#`)
    patterns.push(`#.attr${n}`)
  }
  const topics = new Set<string>()
  while (topics.size < topicCount) topics.add(`${ns()}.${dev()}.${room()}.${attr()}`)
  return { patterns, topics: [...topics] }
}
