import { cloneJson } from '@core/contracts'
function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return
  Object.freeze(v)
  if (Array.isArray(v)) { for (const x of v) deepFreeze(x) } else for (const k in v) deepFreeze((v as Record<string, unknown>)[k])
}
const values: Record<string, unknown> = {
  number: 42,
  small: { on: true, brightness: 80, color: 'warm' },
  medium: { id: 'lamp-1', on: true, attrs: { brightness: 80, color: [255, 200, 100], tags: ['a', 'b', 'c'] }, room: 'kitchen', updated: 'x'.repeat(20) },
}
function bench(name: string, fn: () => unknown, n = 500_000) {
  for (let i = 0; i < n / 5; i++) fn()
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn()
  const ns = Number(process.hrtime.bigint() - t)
  console.log(name.padEnd(40), Math.round((n * 1e9) / ns).toLocaleString(), 'op/s')
}
for (const [k, v] of Object.entries(values)) {
  bench(`${k}: cloneJson`, () => cloneJson(v))
  bench(`${k}: cloneJson+deepFreeze`, () => { const c = cloneJson(v); deepFreeze(c); return c })
  const stored = cloneJson(v); deepFreeze(stored)
  bench(`${k}: get frozen (return ref)`, () => stored)
  bench(`${k}: get copy (cloneJson)`, () => cloneJson(stored))
  bench(`${k}: get copy (structuredClone)`, () => structuredClone(stored))
}
