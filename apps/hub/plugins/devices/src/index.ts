import { CoreError } from '@core/contracts'
import { definePlugin, type PluginContext } from '@core/kernel'
import {
  AddParams,
  type Device,
  DeviceSchema,
  IdParams,
  ListParams,
  RemoveResult,
  RenameParams,
  SetStateParams,
} from './schemas.js'

export type {
  AddParams,
  Device,
  IdParams,
  ListParams,
  RenameParams,
  SetStateParams,
} from './schemas.js'

/** The plugin's config (manifest `corePlugin.config`): nothing to set. */
export type DevicesConfig = Record<string, never>

/**
 * The devices plugin: a registry of devices held in state (`devices.<id>`, so every change is
 * also a `state.devices.<id>` event). Its manifest says `persistState: true`: the kernel writes
 * the namespace through to storage and restores it before setup.
 *
 * Services: `devices.add`, `devices.get`, `devices.list`, `devices.rename`, `devices.remove`,
 * `devices.set-state`. Events: `devices.<id>.added`, `.renamed`, `.removed` and
 * `.state-changed` (`{ id, state, changed, previous }`, only when an attribute changed).
 */
export default definePlugin<DevicesConfig>({
  async setup(ctx) {
    const registry = createRegistry(ctx)
    await registry.adoptLegacyDocuments()
    const { services } = ctx
    services.register('devices.add', (p: AddParams) => registry.add(p), {
      description: 'Adds a device; its id defaults to a slug of its name',
      params: AddParams,
      result: DeviceSchema,
    })
    services.register('devices.get', (p: IdParams) => registry.get(p.id), {
      description: 'One device',
      params: IdParams,
      result: DeviceSchema,
      idempotent: true,
    })
    services.register('devices.list', (p: ListParams) => registry.list(p), {
      description: 'Devices sorted by id, optionally of one type or room',
      params: ListParams,
      idempotent: true,
    })
    services.register('devices.rename', (p: RenameParams) => registry.rename(p), {
      description: "Changes a device's display name",
      params: RenameParams,
      result: DeviceSchema,
      idempotent: true,
    })
    services.register('devices.remove', (p: IdParams) => registry.remove(p.id), {
      description: 'Removes a device',
      params: IdParams,
      result: RemoveResult,
    })
    services.register('devices.set-state', (p: SetStateParams) => registry.setState(p), {
      description: "Merges attributes into a device's state (or replaces it with replace: true)",
      params: SetStateParams,
      result: DeviceSchema,
      idempotent: true,
    })
  },
})

function createRegistry(ctx: PluginContext<DevicesConfig>) {
  const ns = ctx.name
  let queue: Promise<unknown> = Promise.resolve()
  /** One mutation at a time, so read-modify-write never loses an update. */
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work)
    queue = run.catch(() => undefined)
    return run
  }
  const emit = (id: string, what: string, data: unknown): void => {
    // Fire and forget: a service handler must not wait for subscribers, which may be calling us.
    ctx.events.publish(`${ns}.${id}.${what}`, data, { wait: false }).catch((error: unknown) => {
      ctx.logger.warn({ err: error }, `could not publish ${ns}.${id}.${what}`)
    })
  }
  const save = async (device: Device): Promise<void> => {
    await ctx.state.set(ns, device.id, device)
  }
  const find = async (id: string): Promise<Device> => {
    const entry = await ctx.state.get<Device>(ns, id)
    if (entry === undefined) {
      const known = (await ctx.state.list(ns)).map((d) => d.key)
      throw new CoreError(
        'E_NOT_FOUND',
        `No device "${id}"; known devices: ${known.join(', ') || 'none (add one with devices.add)'}`,
        { details: { id } },
      )
    }
    return entry.value
  }

  return {
    /**
     * Moves devices that earlier versions kept as storage documents of their own into the
     * (persisted) state, once: each is set in state, then its document is deleted.
     */
    async adoptLegacyDocuments(): Promise<void> {
      for await (const { key, value } of ctx.storage.iterate({ pageSize: 1000 })) {
        if ((await ctx.state.get(ns, key)) === undefined) await ctx.state.set(ns, key, value)
        await ctx.storage.delete(key)
      }
    },
    add: (p: AddParams) =>
      serial(async () => {
        const id = p.id ?? slug(p.name)
        if (id === '') {
          throw new CoreError(
            'E_VALIDATION',
            `Cannot derive a device id from the name "${p.name}": give an id`,
            {
              details: { name: p.name },
            },
          )
        }
        if (await ctx.state.has(ns, id)) {
          throw new CoreError(
            'E_CONFLICT',
            `Device "${id}" exists already; pick another id or rename it`,
            {
              details: { id },
            },
          )
        }
        const device: Device = {
          id,
          name: p.name,
          type: p.type ?? 'generic',
          state: { ...p.state },
        }
        if (p.room !== undefined) device.room = p.room
        await save(device)
        emit(id, 'added', { device })
        return device
      }),
    get: find,
    list: async (p: ListParams): Promise<Device[]> => {
      const all = await ctx.state.list<Device>(ns)
      return all
        .map((e) => e.value)
        .filter(
          (d) =>
            (p.type === undefined || d.type === p.type) &&
            (p.room === undefined || d.room === p.room),
        )
    },
    rename: (p: RenameParams) =>
      serial(async () => {
        const device = await find(p.id)
        if (device.name === p.name) return device
        const next = { ...device, name: p.name }
        await save(next)
        emit(p.id, 'renamed', { id: p.id, name: p.name, previous: device.name })
        return next
      }),
    remove: (id: string) =>
      serial(async () => {
        const device = await find(id)
        await ctx.state.delete(ns, id)
        emit(id, 'removed', { device })
        return { id, removed: true as const }
      }),
    setState: (p: SetStateParams) =>
      serial(async () => {
        const device = await find(p.id)
        const state = p.replace ? { ...p.state } : { ...device.state, ...p.state }
        const changed: Record<string, unknown> = {}
        for (const key of new Set([...Object.keys(state), ...Object.keys(device.state)])) {
          if (!sameJson(state[key], device.state[key])) changed[key] = state[key] ?? null
        }
        if (Object.keys(changed).length === 0) return device
        const next = { ...device, state }
        await save(next)
        emit(p.id, 'state-changed', { id: p.id, state, changed, previous: device.state })
        return next
      }),
  }
}

/** `"Kitchen Light 2"` → `"kitchen-light-2"`. */
function slug(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
