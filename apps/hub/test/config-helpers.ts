import type { CoreError } from '@core/contracts'

export const failure = (p: Promise<unknown>): Promise<CoreError> =>
  p.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: unknown) => e as CoreError,
  )
