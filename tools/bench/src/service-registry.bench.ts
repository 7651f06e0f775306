/**
 * @core/service-registry: a validated local call (default deadline on, no middleware) against
 * Moleculer 0.14's local `broker.call` with its validator on, and against a directly awaited
 * Ajv-validated async handler (same schema, same Ajv options). Issue 2 §6 targets (same-run
 * medians): ≥ 1.5× Moleculer, ≥ 0.4× direct. A call behind one pass-through middleware is
 * printed for information.
 */
import { silentLogger } from '@core/contracts'
import { createServiceRegistry } from '@core/service-registry'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { ServiceBroker } from 'moleculer'
import { compare, emit, ratio } from './measure.js'

interface Light {
  id: number
  name: string
  on: boolean
  level: number
  room: string
}

/** A 5-field object, the shape MEASURED.md's Ajv figure was taken on. */
const schema = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 0 },
    name: { type: 'string', maxLength: 64 },
    on: { type: 'boolean' },
    level: { type: 'number', minimum: 0, maximum: 100 },
    room: { type: 'string', maxLength: 32 },
  },
  required: ['id', 'name', 'on', 'level', 'room'],
  additionalProperties: false,
} as const

/** The same rules in fastest-validator's language (Moleculer's default validator). */
const moleculerParams = {
  id: { type: 'number', integer: true, min: 0 },
  name: { type: 'string', max: 64 },
  on: { type: 'boolean' },
  level: { type: 'number', min: 0, max: 100 },
  room: { type: 'string', max: 32 },
  $$strict: true,
}

const params: Light = { id: 7, name: 'ceiling', on: true, level: 80, room: 'kitchen' }

/** The work every side does once validated: the same async handler. */
async function handler(p: Light): Promise<number> {
  return p.on ? p.level : 0
}

export default async function bench(): Promise<void> {
  // 1. @core/service-registry, no middleware
  const services = createServiceRegistry({ logger: silentLogger })
  services.register('lights.level', handler, { params: schema })

  // 2. the same with one pass-through middleware (information only)
  const withMiddleware = createServiceRegistry({ logger: silentLogger })
  withMiddleware.register('lights.level', handler, { params: schema })
  withMiddleware.use((_context, next) => next())

  // 2b. the same with one observer, as @core/http's metrics use (information only)
  const withObserver = createServiceRegistry({ logger: silentLogger })
  withObserver.register('lights.level', handler, { params: schema })
  let observed = 0
  withObserver.observe(() => {
    observed++
  })

  // 3. Moleculer 0.14 local call, validator on
  const broker = new ServiceBroker({ logger: false, validator: true })
  broker.createService({
    name: 'lights',
    actions: {
      level: {
        params: moleculerParams,
        handler(ctx: { params: Light }): Promise<number> {
          return handler(ctx.params)
        },
      },
    },
  })
  await broker.start()

  // 4. direct: Ajv (same options as the registry's) then the awaited handler
  const ajv = new Ajv2020({ allErrors: true })
  const validate = ajv.compile(schema)
  const direct = async (p: unknown): Promise<number> => {
    if (!validate(p)) throw new Error('invalid params')
    return await handler(p as Light)
  }

  // sanity: every side answers the same
  const answers = await Promise.all([
    services.call('lights.level', params),
    withMiddleware.call('lights.level', params),
    withObserver.call('lights.level', params),
    broker.call('lights.level', params),
    direct(params),
  ])
  if (new Set(answers).size !== 1) throw new Error(`sides disagree: ${JSON.stringify(answers)}`)

  const figures = await compare(
    {
      'service-registry call (validated, deadline, no middleware)': () =>
        services.call('lights.level', params),
      'moleculer 0.14 local broker.call (validator on)': () => broker.call('lights.level', params),
      'direct ajv-validated awaited async handler': () => direct(params),
      'service-registry call with 1 middleware': () => withMiddleware.call('lights.level', params),
      'service-registry call with 1 observer': () => withObserver.call('lights.level', params),
    },
    { batch: 20_000, rounds: 15, warmup: 5 },
  )
  for (const figure of Object.values(figures)) emit(figure)
  const ours = figures['service-registry call (validated, deadline, no middleware)']!
  const moleculer = figures['moleculer 0.14 local broker.call (validator on)']!
  const directFigure = figures['direct ajv-validated awaited async handler']!
  const middleware = figures['service-registry call with 1 middleware']!
  ratio('service-registry call / moleculer local call', ours, moleculer, 1.5)
  ratio('service-registry call / direct ajv + awaited handler', ours, directFigure, 0.4)
  ratio('service-registry call with 1 middleware / without', middleware, ours)
  const observer = figures['service-registry call with 1 observer']!
  ratio('service-registry call with 1 observer / without', observer, ours)
  if (observed === 0) throw new Error('the observer saw no call')
  await broker.stop()
}
