import Type from 'typebox'

/** The hub's HTTP address when neither the file nor the environment names one. */
export const DEFAULT_HTTP_HOST = '127.0.0.1'
/** The hub's HTTP port when neither the file nor the environment names one. */
export const DEFAULT_HTTP_PORT = 8080
/** A host name or IP address: no spaces, no `/`. */
export const HOST_PATTERN = '^[^\\s/]+$'

/** The `http` section of the hub config file: the HTTP API (`@core/http`). */
export const HttpConfigSchema = Type.Object(
  {
    host: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: HOST_PATTERN,
        description: 'Address the HTTP API listens on. Env CORE_HTTP_HOST. Default 127.0.0.1',
      }),
    ),
    port: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65535,
        description:
          'TCP port of the HTTP API; 0 picks a free one. Env CORE_HTTP_PORT. Default 8080',
      }),
    ),
    auth: Type.Optional(
      Type.Boolean({
        description:
          'Require a bearer token on every /api route. false only on a loopback host. Env CORE_AUTH (on/off). Default true',
      }),
    ),
    publicRoutes: Type.Optional(
      Type.Object(
        {
          health: Type.Optional(
            Type.Boolean({ description: 'GET /health without a token. Default true' }),
          ),
          metrics: Type.Optional(
            Type.Boolean({
              description:
                'GET /metrics without a token. Default false: a token with metrics:read (or admin) is needed, except from a loopback client (see loopbackMeta)',
            }),
          ),
          docs: Type.Optional(
            Type.Boolean({
              description:
                'GET /openapi.json and /docs without a token. Default false: a token with docs:read (or admin) is needed, except from a loopback client (see loopbackMeta)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    loopbackMeta: Type.Optional(
      Type.Boolean({
        description:
          'Let loopback clients (127.0.0.0/8, ::1) read /metrics, /openapi.json and /docs without a token. Turn off behind a reverse proxy on the same machine. Default true',
      }),
    ),
    authFailures: Type.Optional(
      Type.Object(
        {
          max: Type.Optional(
            Type.Integer({
              minimum: 1,
              description:
                'Failed authentications allowed per client address and window; the next get 429 with Retry-After. Default 20',
            }),
          ),
          windowMs: Type.Optional(
            Type.Integer({ minimum: 1, description: 'The window, ms. Default 60000' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'The HTTP API (@core/http)' },
)

/** The HTTP API settings, resolved. */
export interface HttpSettings {
  host: string
  /** 0 picks a free port. */
  port: number
  auth: boolean
  publicRoutes: { health: boolean; metrics: boolean; docs: boolean }
  /** Loopback clients read /metrics and the docs without a token. */
  loopbackMeta: boolean
  /** Failed authentications per address and window before 429. */
  authFailures: { max: number; windowMs: number }
}
