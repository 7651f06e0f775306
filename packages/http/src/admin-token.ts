import { CoreError } from '@core/contracts'

/** The least estimated entropy of a fixed admin token, bits. @public */
export const MIN_ADMIN_TOKEN_BITS = 128

/**
 * A conservative estimate of the entropy of a secret, in bits: the empirical Shannon entropy of
 * its characters (bits per character, from how often each occurs in the text) times the number
 * of characters that are neither a repeat of the one before nor the next step of a run
 * (`aaaa`, `abcd`, `4321` count once), nor part of a three-character piece seen before
 * (`x7Qx7Q` counts as `x7Q`); a word (three or more lower-case letters between
 * separators or the ends) counts at most 13 bits, one Diceware word. It never credits more than the text shows: 32 × `a` is
 * 0 bits, `openssl rand -hex 32` about 220 to 240, `openssl rand -hex 16` about 100 (refused as
 * an admin token, though it holds 128 random bits: the estimate errs low).
 *
 * @param secret - The text to judge.
 * @returns The estimate, bits (0 for an empty text).
 * @see NIST SP 800-63B §A.3 (entropy of memorised secrets is hard to estimate: err low)
 * @example
 * ```ts
 * estimateEntropyBits('a'.repeat(32)) // 0
 * estimateEntropyBits(randomBytes(32).toString('hex')) // ≈ 230
 * ```
 * @public
 */
export function estimateEntropyBits(secret: string): number {
  const chars = Array.from({ length: secret.length }, (_, i) => secret.charCodeAt(i))
  if (chars.length === 0) return 0
  const counts = new Map<number, number>()
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1)
  let perChar = 0
  for (const n of counts.values()) {
    const p = n / chars.length
    perChar -= p * Math.log2(p)
  }
  const credit = chars.map((c, i) => {
    const step = i === 0 ? Number.NaN : c - (chars[i - 1] as number)
    const before = i < 2 ? Number.NaN : (chars[i - 1] as number) - (chars[i - 2] as number)
    return step === 0 || (Math.abs(step) === 1 && step === before) ? 0 : perChar
  })
  // A piece seen before (three characters or more) adds nothing: `abcdabcd` is worth `abcd`.
  const seen = new Set<string>()
  for (let i = 0; i + 3 <= secret.length; i++) {
    const piece = secret.slice(i, i + 3)
    if (seen.has(piece)) credit.fill(0, i, i + 3)
    seen.add(piece)
  }
  // A word (lower-case letters between separators) counts at most as one Diceware word.
  for (const word of secret.matchAll(/(?<![A-Za-z0-9])[a-z]{3,}(?![A-Za-z0-9])/g)) {
    const end = word.index + word[0].length
    const sum = credit.slice(word.index, end).reduce((a, b) => a + b, 0)
    credit.fill(0, word.index, end)
    credit[word.index] = Math.min(sum, WORD_BITS)
  }
  return credit.reduce((a, b) => a + b, 0)
}

/** The most a word is worth: one Diceware word (log2 7776 ≈ 12.9 bits). */
const WORD_BITS = 13

/**
 * Refuses a fixed admin token that is guessable: it must have an estimated entropy of at least
 * {@link MIN_ADMIN_TOKEN_BITS} bits ({@link estimateEntropyBits}) and no white space. A token in
 * the generated format (`core_<id>_<secret>`, from `core token create`) passes on its random
 * secret.
 *
 * @param token - The candidate (e.g. `CORE_ADMIN_TOKEN`); never copied into the error.
 * @param source - What it came from, for the message. @defaultValue 'adminToken'
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming how to make a strong one
 *   (`openssl rand -hex 32` or `core token create`); `details: { estimatedBits, minBits }`.
 * @example
 * ```ts
 * assertStrongAdminToken(process.env.CORE_ADMIN_TOKEN ?? '', 'CORE_ADMIN_TOKEN')
 * ```
 * @public
 */
export function assertStrongAdminToken(token: unknown, source = 'adminToken'): void {
  if (typeof token !== 'string' || /\s/.test(token)) {
    throw new CoreError(
      'E_VALIDATION',
      `${source} must be a string without white space: make one with \`openssl rand -hex 32\` (or use a token from \`core token create\`)`,
    )
  }
  const bits = Math.floor(estimateEntropyBits(token))
  if (bits >= MIN_ADMIN_TOKEN_BITS) return
  throw new CoreError(
    'E_VALIDATION',
    `${source} is too easy to guess (about ${bits} bits of entropy; at least ${MIN_ADMIN_TOKEN_BITS} are needed): make one with \`openssl rand -hex 32\`, or create a token with \`core token create --name admin --scopes admin\` and use that`,
    { details: { estimatedBits: bits, minBits: MIN_ADMIN_TOKEN_BITS } },
  )
}
