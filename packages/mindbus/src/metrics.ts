import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { MindBusStats } from './types.js'

/** What the metrics read from their node at scrape time. */
export interface MetricsSource {
  stats(): MindBusStats
  connected(): boolean
  queueDepths(): Promise<Record<string, number>>
}

/** The node's Prometheus metrics: registered on registries passed in, never the global one. */
export interface MindBusMetrics {
  /** Adds every metric to `registry`; again with the same registry does nothing. */
  register(registry: Registry): void
  /** Records one remote call's round trip, in seconds. */
  observeRoundTrip(seconds: number): void
}

/** Round-trip buckets, seconds: 0.5 ms … 10 s (RPC over a local broker takes about 1–20 ms). */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
/** Longest wait for the queue depths at scrape time, in ms (a scrape never hangs on the broker). */
const DEPTH_TIMEOUT_MS = 2_000

/**
 * Creates the metrics of one MindBus node. Counters are read from the node's counters when
 * scraped (the call path only counts), the round-trip histogram is observed per call, and queue
 * depths are read at scrape time with a passive queue declare (left out while disconnected).
 */
export function createMindBusMetrics(source: MetricsSource): MindBusMetrics {
  const fromStats = (
    name: string,
    help: string,
    read: (s: MindBusStats) => number,
  ): Counter<string> =>
    new Counter({
      name,
      help,
      registers: [],
      collect() {
        this.reset()
        this.inc(read(source.stats()))
      },
    })
  const byOutcome = (name: string, help: string, key: 'sent' | 'served'): Counter<string> =>
    new Counter({
      name,
      help,
      labelNames: ['outcome'],
      registers: [],
      collect() {
        this.reset()
        for (const [outcome, n] of Object.entries(source.stats()[key])) this.inc({ outcome }, n)
      },
    })
  const roundTrip = new Histogram({
    name: 'core_mindbus_call_duration_seconds',
    help: 'Round trip of remote calls sent by this node (publish to result), in seconds',
    buckets: BUCKETS,
    registers: [],
  })
  const depth = new Gauge({
    name: 'core_mindbus_queue_messages',
    help: 'Messages waiting in this node’s queues (node commands, control, events), read at scrape time',
    labelNames: ['queue'],
    registers: [],
    async collect() {
      const depths = source.connected() ? await withTimeout(source.queueDepths()) : undefined
      this.reset()
      for (const [queue, n] of Object.entries(depths ?? {})) this.set({ queue }, n)
    },
  })
  const metrics: Array<Counter<string> | Gauge<string> | Histogram<string>> = [
    byOutcome(
      'core_mindbus_calls_sent_total',
      'Remote calls sent by this node, by outcome ("ok" or the CoreError code)',
      'sent',
    ),
    byOutcome(
      'core_mindbus_calls_served_total',
      'Commands served by this node, by outcome ("ok" or the CoreError code)',
      'served',
    ),
    roundTrip,
    fromStats(
      'core_mindbus_dropped_expired_total',
      'Commands acked without running because their deadline had passed on arrival (DroppedExpired)',
      (s) => s.droppedExpired,
    ),
    fromStats(
      'core_mindbus_dead_lettered_total',
      'Unreadable messages rejected to the dead-letter exchange',
      (s) => s.deadLettered,
    ),
    fromStats(
      'core_mindbus_duplicates_total',
      'Redelivered commands answered with their first result or dropped instead of running twice',
      (s) => s.duplicates,
    ),
    fromStats(
      'core_mindbus_reconnects_total',
      'Reconnections to the broker after the first connection',
      (s) => s.reconnects,
    ),
    fromStats(
      'core_mindbus_events_exported_total',
      'Local events published to the broker',
      (s) => s.eventsExported,
    ),
    fromStats(
      'core_mindbus_events_imported_total',
      'Events received from other nodes and published on the local bus',
      (s) => s.eventsImported,
    ),
    fromStats(
      'core_mindbus_events_refused_total',
      'Events from other nodes the authorize hook (the operator policy) refused',
      (s) => s.eventsRefused,
    ),
    fromStats(
      'core_mindbus_control_received_total',
      'Control signals received',
      (s) => s.controlReceived,
    ),
    fromStats(
      'core_mindbus_control_refused_total',
      'Control signals from other nodes the authorize hook (the operator policy) refused',
      (s) => s.controlRefused,
    ),
    fromStats(
      'core_mindbus_signature_verified_total',
      'Signed messages (commands, results, events, control) accepted by the signature check',
      (s) => s.signatureVerified,
    ),
    new Counter({
      name: 'core_mindbus_signature_refused_total',
      help: 'Messages refused by the signature check, by reason (unsigned, unknown-key, bad-signature, owner-mismatch, expired, future, replayed, …)',
      labelNames: ['reason'],
      registers: [],
      collect() {
        this.reset()
        for (const [reason, n] of Object.entries(source.stats().signatureRefused)) {
          this.inc({ reason }, n)
        }
      },
    }),
    new Gauge({
      name: 'core_mindbus_connected',
      help: '1 while the broker connection is ready, else 0 (health "degraded")',
      registers: [],
      collect() {
        this.set(source.connected() ? 1 : 0)
      },
    }),
    depth,
  ]
  const registries = new Set<Registry>()
  return {
    register(registry) {
      if (registries.has(registry)) return
      registries.add(registry)
      for (const metric of metrics) registry.registerMetric(metric)
    },
    observeRoundTrip: (seconds) => roundTrip.observe(seconds),
  }
}

/** The depths, or undefined when the broker does not answer in time or refuses. */
async function withTimeout(
  depths: Promise<Record<string, number>>,
): Promise<Record<string, number> | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, DEPTH_TIMEOUT_MS, undefined)
  })
  try {
    return await Promise.race([depths.catch(() => undefined), late])
  } finally {
    clearTimeout(timer)
  }
}
