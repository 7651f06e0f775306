/**
 * Quick A/B of node CPU per call at c64 (not a `pnpm bench` suite): MindBus without priority
 * (16 channels) against raw amqplib as the spec asks (by default), rounds alternated in one
 * process. `npx tsx tools/bench/src/mindbus-cpu.ts [waves] [rounds] [side,side…]` with sides
 * among mindbus, mindbus255 (the spec's 255 priority levels), spec, spec255 (raw amqplib as the
 * spec asks, on a queue of 255 levels), raw, rc (rabbitmq-client RPC), acm (amqplib +
 * amqp-connection-manager), rcspec (rabbitmq-client as the spec asks, writes coalesced as MindBus
 * does);
 * run it under `node --cpu-prof --import tsx` to profile one side.
 */
import { mindbusPair } from './mindbus-pair.js'
import {
  amqpConnectionManager,
  type Call,
  rabbitmqClient,
  rabbitmqClientSpec,
  rawAmqplib,
  rawAmqplibSpec,
  run,
} from './mindbus-sides.js'

const waves = Number(process.argv[2] ?? 50)
const rounds = Number(process.argv[3] ?? 5)
const wanted = (process.argv[4] ?? 'mindbus,spec').split(',')

const makers: Record<string, () => Promise<{ call: Call; close: () => Promise<void> }>> = {
  mindbus: () => mindbusPair(`b${run}cpu`, { maxPriority: 0, consumerChannels: 16 }),
  mindbus255: () => mindbusPair(`b${run}cpu255`, { maxPriority: 255, consumerChannels: 16 }),
  spec: () => rawAmqplibSpec(),
  spec255: () => rawAmqplibSpec(255),
  raw: rawAmqplib,
  rc: rabbitmqClient,
  acm: amqpConnectionManager,
  rcspec: rabbitmqClientSpec,
}
const sides: Record<string, { call: Call; close: () => Promise<void> }> = {}
for (const name of wanted)
  sides[name] = await (makers[name] as () => Promise<{ call: Call; close: () => Promise<void> }>)()
const cpu: Record<string, number[]> = {}
const rate: Record<string, number[]> = {}
for (const side of Object.values(sides)) {
  for (let w = 0; w < 5; w++) await Promise.all(Array.from({ length: 64 }, side.call))
}
for (let r = 0; r < rounds; r++) {
  for (const [name, side] of Object.entries(sides)) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    for (let w = 0; w < waves; w++) await Promise.all(Array.from({ length: 64 }, side.call))
    const c = process.cpuUsage(c0)
    const s = (performance.now() - t0) / 1000
    cpu[name] = [...(cpu[name] ?? []), (c.user + c.system) / (waves * 64)]
    rate[name] = [...(rate[name] ?? []), (waves * 64) / s]
  }
}
const med = (v: number[]): number =>
  [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number
for (const name of Object.keys(sides)) {
  process.stdout.write(
    `${JSON.stringify({
      name,
      node_cpu_us_per_call: Math.round(med(cpu[name] ?? [])),
      all: (cpu[name] ?? []).map(Math.round),
      calls_per_s: Math.round(med(rate[name] ?? [])),
    })}\n`,
  )
}
for (const side of Object.values(sides)) await side.close()
