import { CoreError } from '@core/contracts'
import semver from 'semver'

/**
 * Parses a service version (semver 2.0.0, as node-semver reads it: `1.2.3`, `2.0.0-beta.1`;
 * a leading `v` or `=` is dropped).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when it is not a version.
 * @internal
 */
export function parseVersion(version: unknown, service: string): semver.SemVer {
  const parsed = typeof version === 'string' ? semver.parse(version) : null
  if (parsed === null) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid version ${JSON.stringify(version)} of service "${service}": use a semver version such as "1.0.0" or "2.1.0-beta.1"`,
      { details: { service, version } },
    )
  }
  return parsed
}

/**
 * Reads semver ranges, remembering the last few hundred so that a caller who pins a range on
 * every call parses it once.
 * @internal
 */
export class RangeCache {
  private readonly cache = new Map<string, semver.Range>()

  /** @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `range` is not a semver range. */
  get(range: unknown, service: string): semver.Range {
    if (typeof range === 'string') {
      const hit = this.cache.get(range)
      if (hit !== undefined) return hit
    }
    let parsed: semver.Range | undefined
    if (typeof range === 'string') {
      try {
        parsed = new semver.Range(range)
      } catch {
        parsed = undefined
      }
    }
    if (parsed === undefined) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid version range ${JSON.stringify(range)} for service "${service}": use a semver range such as "^1.2.0", "~2.0", ">=1 <3" or "*"`,
        { details: { service, version: range } },
      )
    }
    if (this.cache.size >= 256) this.cache.clear()
    this.cache.set(range as string, parsed)
    return parsed
  }
}

/**
 * The first item of `sorted` (highest version first) whose version satisfies `range`, with
 * node-semver's rules (a prerelease matches only a range naming a prerelease of the same
 * `major.minor.patch`).
 * @internal
 */
export function pickHighest<T extends { semver: semver.SemVer }>(
  sorted: readonly T[],
  range: semver.Range,
): T | undefined {
  for (const item of sorted) if (range.test(item.semver)) return item
  return undefined
}

/** Inserts `item` into `sorted`, keeping it highest version first. @internal */
export function insertByVersion<T extends { semver: semver.SemVer }>(sorted: T[], item: T): void {
  let i = 0
  while (i < sorted.length && semver.compare((sorted[i] as T).semver, item.semver) > 0) i++
  sorted.splice(i, 0, item)
}
