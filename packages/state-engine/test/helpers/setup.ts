import type { StateChange } from '@core/contracts'
import { silentLogger } from '@core/contracts'
import { createFakeClock, type FakeClock } from '@core/contracts/testing'
import { createEventBus, type EventBus } from '@core/event-bus'
import { createStateEngine, type StateBackend, type StateEngine } from '../../src/index.js'

/** The bus the tests run on: the real one, quiet. */
export function createTestBus(): EventBus {
  return createEventBus({ logger: silentLogger })
}

/** Lets queued deliveries and backend promises run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

export interface Harness {
  state: StateEngine
  bus: EventBus
  clock: FakeClock
  /** Every change seen by a `#` watch on the whole `state` tree, in delivery order. */
  changes: StateChange[]
}

export function harness(options: { backend?: StateBackend; source?: string } = {}): Harness {
  const bus = createTestBus()
  const clock = createFakeClock({ now: 1_700_000_000_000 })
  const changes: StateChange[] = []
  bus.subscribe<StateChange>('state.#', (event) => {
    changes.push(event.data)
  })
  const state = createStateEngine({ bus, clock, logger: silentLogger, ...options })
  return { state, bus, clock, changes }
}
