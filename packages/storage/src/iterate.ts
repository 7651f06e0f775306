import type { JsonValue } from '@core/contracts'
import { CoreError } from '@core/contracts'
import type { IterateOptions, ListOptions, ListPage, StorageEntry } from './types.js'
import { MAX_LIMIT } from './validate.js'

/**
 * Walks every page of a `list` function, yielding documents in key order; the next page is
 * read only when the consumer asks for the entry after the last one of the current page.
 * @internal
 */
export async function* iterateList<T extends JsonValue>(
  list: (options: ListOptions) => Promise<ListPage<T>>,
  options: IterateOptions | undefined,
): AsyncGenerator<StorageEntry<T>, void, undefined> {
  const limit = options?.pageSize ?? 100
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid pageSize ${String(limit)}: use an integer from 1 to ${MAX_LIMIT}`,
      { details: { pageSize: limit } },
    )
  }
  const base: ListOptions =
    options?.prefix === undefined ? { limit } : { prefix: options.prefix, limit }
  let cursor: string | undefined
  do {
    const page = await list(cursor === undefined ? base : { ...base, cursor })
    yield* page.items
    cursor = page.cursor
  } while (cursor !== undefined)
}
