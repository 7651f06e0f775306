import { CoreError } from '@core/contracts'

/**
 * The bytes to send for a payload given to `mqtt.publish`: a string as UTF-8 text, `undefined`
 * as the empty payload (which clears a retained message), anything else as JSON.
 * @throws CoreError E_VALIDATION when the value is not JSON-serialisable.
 * @internal
 */
export function encodePayload(payload: unknown): string {
  if (payload === undefined) return ''
  if (typeof payload === 'string') return payload
  let text: string | undefined
  try {
    text = JSON.stringify(payload)
  } catch (error) {
    throw new CoreError('E_VALIDATION', `Invalid payload: it cannot be serialised as JSON`, {
      cause: error,
    })
  }
  if (text === undefined) {
    throw new CoreError('E_VALIDATION', 'Invalid payload: it is not a JSON value')
  }
  return text
}

/**
 * An inbound payload for plugins: the parsed JSON value when the bytes are JSON, else the
 * UTF-8 text. The empty payload is `''`. @internal
 */
export function decodePayload(payload: Buffer): unknown {
  if (payload.length === 0) return ''
  const text = payload.toString('utf8')
  const first = text.charCodeAt(0)
  // Only try JSON when the text can start a JSON value: most plain strings ("online", "ON")
  // then cost no exception.
  if (!startsJson(first)) return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** Parses a payload that must be JSON; `{ ok: false }` when it is not. @internal */
export function parseJsonPayload(
  payload: Buffer,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (payload.length === 0) return { ok: false, reason: 'the payload is empty' }
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown }
  } catch (error) {
    return { ok: false, reason: `the payload is not JSON (${(error as Error).message})` }
  }
}

function startsJson(c: number): boolean {
  // { [ " - 0-9 t f n, after optional whitespace
  return (
    c === 123 ||
    c === 91 ||
    c === 34 ||
    c === 45 ||
    (c >= 48 && c <= 57) ||
    c === 116 ||
    c === 102 ||
    c === 110 ||
    c === 32 ||
    c === 9 ||
    c === 10 ||
    c === 13
  )
}
