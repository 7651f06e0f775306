import { expect } from 'vitest'

export const PROBLEM = 'application/problem+json'

export async function problem(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  return (await res.json()) as Record<string, unknown>
}
