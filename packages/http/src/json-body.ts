import { CoreError } from '@core/contracts'
import type { FastifyInstance } from 'fastify'
import { parse as secureJsonParse } from 'secure-json-parse'

/**
 * Makes `app` accept JSON bodies only: anything else is 415, not a string handed to a service.
 * Bodies are parsed by {@link parseJsonBody}.
 * @internal
 */
export function acceptJsonBodiesOnly(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
}

/**
 * Parses a JSON body, refusing `__proto__` keys and `constructor.prototype` paths
 * (secure-json-parse), so that no handler can be tricked into polluting a prototype.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for an empty body, invalid JSON or a refused key.
 * @internal
 */
export function parseJsonBody(body: string): unknown {
  if (body.trim() === '') {
    throw new CoreError(
      'E_VALIDATION',
      'The request body is empty but Content-Type is application/json: send a JSON document, or no body and no Content-Type',
    )
  }
  try {
    return secureJsonParse(body, { protoAction: 'error', constructorAction: 'error' })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (/prototype/i.test(message)) {
      throw new CoreError(
        'E_VALIDATION',
        'The request body contains a "__proto__" or "constructor.prototype" key, which is refused: rename the key',
        { cause: error },
      )
    }
    throw new CoreError('E_VALIDATION', `The request body is not valid JSON: ${message}`, {
      cause: error,
    })
  }
}
