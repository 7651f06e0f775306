/**
 * The registered names closest to `name` by edit distance (Levenshtein: one insertion,
 * deletion or substitution costs 1), nearest first, at most `limit`, and only those within
 * `max(2, ⌊length / 4⌋)` edits, so that the suggestions are plausible typos.
 * @internal
 */
export function closestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const budget = Math.max(2, Math.floor(name.length / 4))
  const scored: Array<{ name: string; distance: number }> = []
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate, budget)
    if (distance <= budget) scored.push({ name: candidate, distance })
  }
  scored.sort((a, b) => a.distance - b.distance || (a.name < b.name ? -1 : 1))
  return scored.slice(0, limit).map((s) => s.name)
}

/**
 * Levenshtein distance of `a` and `b`, or any number above `budget` once it is certain to
 * exceed it (two rows, O(|a|·|b|) time at worst).
 * @internal
 */
export function editDistance(
  a: string,
  b: string,
  budget: number = Number.POSITIVE_INFINITY,
): number {
  if (Math.abs(a.length - b.length) > budget) return budget + 1
  let prev = new Array<number>(b.length + 1)
  let curr = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      const value = Math.min(
        (prev[j] as number) + 1,
        (curr[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      )
      curr[j] = value
      if (value < rowMin) rowMin = value
    }
    if (rowMin > budget) return budget + 1
    const swap = prev
    prev = curr
    curr = swap
  }
  return prev[b.length] as number
}
