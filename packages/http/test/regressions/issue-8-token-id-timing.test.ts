import * as crypto from 'node:crypto'
import { createMemoryAdapter, createStorage } from '@core/storage'
import { describe, expect, it, vi } from 'vitest'

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof crypto>()
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) }
})

const { createTokenStore } = await import('../../src/index.js')

describe('issue 8: an unknown token id costs what a wrong secret costs', () => {
  it('hashes and compares an unknown id against a dummy hash, as it does a wrong secret', async () => {
    const tokens = createTokenStore(createStorage(createMemoryAdapter()))
    const { token } = await tokens.create({ name: 'x', scopes: ['admin'] })
    const compare = vi.mocked(crypto.timingSafeEqual)
    const secret = token.slice(22)
    const wrongSecret = `${token.slice(0, 22)}${secret.at(0) === 'A' ? 'B' : 'A'}${secret.slice(1)}`
    const unknownId = `core_${'0'.repeat(16)}_${secret}`

    compare.mockClear()
    await expect(tokens.verify(wrongSecret)).rejects.toMatchObject({ code: 'E_UNAUTHENTICATED' })
    const forWrongSecret = compare.mock.calls.length

    compare.mockClear()
    await expect(tokens.verify(unknownId)).rejects.toMatchObject({ code: 'E_UNAUTHENTICATED' })
    expect(forWrongSecret).toBe(1)
    expect(compare.mock.calls.length).toBe(forWrongSecret)
    // Same refusal text for both: nothing tells an unknown id from a wrong secret.
    const messages = await Promise.all(
      [wrongSecret, unknownId].map((t) => tokens.verify(t).catch((e: Error) => e.message)),
    )
    expect(messages[0]).toBe(messages[1])
  })
})
