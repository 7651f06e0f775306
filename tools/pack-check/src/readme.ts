/**
 * What the pack check reads from a README: the packages its Install section tells a user to
 * add, and the example to run.
 *
 * - Install: every `pnpm add …` / `npm install …` line in the `## Install` section (flags
 *   dropped), e.g. `pnpm add @core/storage @core/storage-sqlite`.
 * - Example: the first ```ts block of the `## Usage` section (for the root README: of the
 *   section named by `section`). A README can mark its Usage block as type-check only with an
 *   HTML comment `<!-- pack-check: typecheck-only (why) -->` on the line before the fence, or
 *   say it has no standalone example with `<!-- pack-check: no-example (why) -->` anywhere in
 *   Usage (e.g. a command-line tool whose example is a shell session).
 */
export interface ReadmeExample {
  /** Package names the Install section adds, in order, without duplicates. */
  install: string[]
  /** The example's TypeScript source, or undefined when the README says it has none. */
  code: string | undefined
  /** Whether the example is only type-checked, not run. */
  typecheckOnly: boolean
}

/** Reads the Install packages and the example of `markdown`. */
export function readReadme(
  markdown: string,
  section = 'Usage',
  installSection = 'Install',
): ReadmeExample {
  const install = [
    ...new Set(
      sectionOf(markdown, installSection)
        .split('\n')
        .flatMap((line) => {
          const m = /^\s*(?:pnpm add|npm (?:install|i))\s+(.*)$/.exec(line)
          if (m === null) return []
          return (m[1] ?? '')
            .replace(/#.*$/, '')
            .split(/\s+/)
            .filter((word) => word !== '' && !word.startsWith('-'))
        }),
    ),
  ]
  const usage = sectionOf(markdown, section)
  if (/<!-- pack-check: no-example\b/.test(usage)) {
    return { install, code: undefined, typecheckOnly: false }
  }
  const fence = /(^<!-- pack-check: typecheck-only\b[^\n]*-->\n)?^```ts\n([\s\S]*?)^```/m.exec(
    usage,
  )
  if (fence === null) return { install, code: undefined, typecheckOnly: false }
  return { install, code: fence[2], typecheckOnly: fence[1] !== undefined }
}

/** The text of `## <title>` up to the next heading of level 2 (or the end). */
function sectionOf(markdown: string, title: string): string {
  const lines = markdown.split('\n')
  const start = lines.findIndex((line) => line.trim() === `## ${title}`)
  if (start < 0) return ''
  const rest = lines.slice(start + 1)
  const end = rest.findIndex((line) => /^## /.test(line))
  return rest.slice(0, end < 0 ? undefined : end).join('\n')
}
