import type { CloudEvent, StateChange, StateEntry, Undo } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { describe, expectTypeOf, it } from 'vitest'
import {
  createMemoryStateBackend,
  createStateEngine,
  type StateBackend,
  type StateEngine,
  type StateListItem,
} from '../src/index.js'

describe('public types', () => {
  it('types entries, lists and watch handlers by the value type asked for', async () => {
    const state: StateEngine = createStateEngine({ bus: createEventBus() })
    expectTypeOf(state.set('t', 'k', { on: true })).resolves.toEqualTypeOf<
      StateEntry<{ on: boolean }>
    >()
    expectTypeOf(state.get<number>('t', 'k')).resolves.toEqualTypeOf<
      StateEntry<number> | undefined
    >()
    expectTypeOf(state.list<string>('t')).resolves.toEqualTypeOf<StateListItem<string>[]>()
    expectTypeOf(state.delete('t', 'k')).resolves.toEqualTypeOf<boolean>()
    const undo = state.watch<number>('t', '#', (change, event) => {
      expectTypeOf(change).toEqualTypeOf<StateChange<number>>()
      expectTypeOf(event).toEqualTypeOf<CloudEvent<StateChange<number>>>()
    })
    expectTypeOf(undo).toEqualTypeOf<Undo>()
    undo()
    await state.close()
  })

  it('makes the memory backend a StateBackend', () => {
    expectTypeOf(createMemoryStateBackend()).toEqualTypeOf<StateBackend>()
  })
})
