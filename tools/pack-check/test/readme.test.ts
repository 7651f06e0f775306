import { describe, expect, it } from 'vitest'
import { readReadme } from '../src/readme.js'

const readme = (usage: string): string =>
  [
    '# @core/x',
    '',
    '## Install',
    '',
    '```sh',
    'pnpm add @core/x @core/y   # and a comment',
    'npm install --global @core/cli',
    'pnpm add -D vitest @core/x',
    '```',
    '',
    '## Usage',
    '',
    usage,
    '',
    '## API',
    '',
    '```ts',
    "import { notThis } from '@core/x'",
    '```',
  ].join('\n')

describe('readReadme', () => {
  it('takes the packages of every install line, without flags, comments or duplicates', () => {
    expect(readReadme(readme('')).install).toEqual(['@core/x', '@core/y', '@core/cli', 'vitest'])
  })

  it('takes the first ts block of the Usage section as the example to run', () => {
    const result = readReadme(
      readme('```sh\nx\n```\n\n```ts\nconsole.log(1)\n```\n\n```ts\n2\n```'),
    )
    expect(result).toMatchObject({ code: 'console.log(1)\n', typecheckOnly: false })
  })

  it('marks the block after a typecheck-only comment as not to run', () => {
    const usage = '<!-- pack-check: typecheck-only (a server) -->\n```ts\nserve()\n```'
    expect(readReadme(readme(usage))).toMatchObject({ code: 'serve()\n', typecheckOnly: true })
  })

  it('has no example when Usage says so, or has no ts block', () => {
    const marked = '<!-- pack-check: no-example (a shell session) -->\n```ts\nx()\n```'
    expect(readReadme(readme(marked)).code).toBeUndefined()
    expect(readReadme(readme('```sh\ncore --help\n```')).code).toBeUndefined()
  })

  it('reads another section for both install and example, as the root README’s "30 seconds"', () => {
    const root = '## 30 seconds\n\n```sh\nnpm install @core/a\n```\n\n```ts\na()\n```\n'
    expect(readReadme(root, '30 seconds', '30 seconds')).toEqual({
      install: ['@core/a'],
      code: 'a()\n',
      typecheckOnly: false,
    })
  })
})
