/**
 * The benchmark harness: every figure is measured in this process, alternating the sides of a
 * comparison, and printed as one JSON line. Ratios are taken between figures of the same run
 * only (the machines here are shared and drift up to 2x between runs).
 */

export interface Figure {
  name: string
  ops_per_s: number
  /** Samples (each a timed batch), for the median. */
  samples: number
  [extra: string]: unknown
}

export interface MeasureOptions {
  /** Operations per timed batch. */
  batch?: number
  /** Timed batches per side; the median is reported. */
  rounds?: number
  /** Untimed warm-up batches per side. */
  warmup?: number
}

export type Operation = () => unknown | Promise<unknown>

/** Runs `op` `n` times, awaiting it when it returns a promise; returns elapsed ns. */
async function timeBatch(op: Operation, n: number): Promise<number> {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const r = op()
    if (r !== undefined && typeof (r as Promise<unknown>).then === 'function') await r
  }
  return Number(process.hrtime.bigint() - start)
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/**
 * Measures several named operations against each other, alternating them round by round so
 * that drift hits every side alike. Returns one figure per side (median ops/s).
 */
export async function compare(
  sides: Record<string, Operation>,
  options: MeasureOptions = {},
): Promise<Record<string, Figure>> {
  const batch = options.batch ?? 10_000
  const rounds = options.rounds ?? 7
  const warmup = options.warmup ?? 2
  const names = Object.keys(sides)
  const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let w = 0; w < warmup; w++)
    for (const n of names) await timeBatch(sides[n] as Operation, batch)
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse()
    for (const n of order) {
      const ns = await timeBatch(sides[n] as Operation, batch)
      rates[n]?.push((batch * 1e9) / ns)
    }
  }
  return Object.fromEntries(
    names.map((n) => [
      n,
      { name: n, ops_per_s: Math.round(median(rates[n] ?? [])), samples: rounds },
    ]),
  )
}

/** Measures one operation alone (median ops/s over `rounds` batches). */
export async function measure(
  name: string,
  op: Operation,
  options: MeasureOptions = {},
): Promise<Figure> {
  const figures = await compare({ [name]: op }, options)
  return figures[name] as Figure
}

/** Prints one figure as a JSON line. */
export function emit(figure: Figure): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`)
}

/** Prints a same-run ratio `a / b` as a JSON line, with the target when there is one. */
export function ratio(name: string, a: Figure, b: Figure, target?: number): void {
  const value = Math.round((a.ops_per_s / b.ops_per_s) * 100) / 100
  const line: Record<string, unknown> = { ratio: name, value, of: a.name, over: b.name }
  if (target !== undefined) {
    line.target = target
    line.met = value >= target
  }
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

/** Percentile (0-100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  return s[i] as number
}
