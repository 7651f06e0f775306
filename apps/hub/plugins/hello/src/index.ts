import { definePlugin } from '@core/kernel'

/** The plugin's config: `corePlugin.config` in package.json validates it and fills in defaults. */
export interface HelloConfig {
  /** The word to greet with. @defaultValue 'Hello' */
  greeting: string
}

/** Params of `hello.greet`. */
export interface GreetParams {
  /** Who to greet. @defaultValue 'world' */
  name?: string
}

/**
 * The hello plugin: one service, `hello.greet`, which answers `{ message }` and publishes a
 * `hello.greeted` event. Everything it registers through `ctx` is released when it unloads.
 */
export default definePlugin<HelloConfig>({
  setup(ctx) {
    ctx.services.register<GreetParams, { message: string }>(
      'hello.greet',
      async ({ name = 'world' }) => {
        const message = `${ctx.config.greeting}, ${name}!`
        await ctx.events.publish('hello.greeted', { name, message }, { wait: false })
        return { message }
      },
      {
        description: 'Greets someone; publishes hello.greeted',
        params: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 } },
          additionalProperties: false,
        },
        result: {
          type: 'object',
          properties: { message: { type: 'string' } },
          required: ['message'],
        },
      },
    )
    ctx.logger.info(`hello is ready to greet with "${ctx.config.greeting}"`)
  },
})
