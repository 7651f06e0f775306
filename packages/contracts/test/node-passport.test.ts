import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import { NodePassportSchema } from '../src/index.js'

const file = fileURLToPath(new URL('../schemas/node-passport.schema.json', import.meta.url))
const passport = {
  apiVersion: 'core.runtime/v1',
  kind: 'NodePassport',
  metadata: {
    uid: '0b8f6a2e-6a3c-4a8e-9f3e-1b2c3d4e5f60',
    name: 'kitchen-hub',
    nodeType: 'hub',
    labels: { room: 'kitchen', 'example.com/floor': '1', empty: '' },
  },
  spec: {
    capabilities: { services: [{ name: 'lights.toggle', version: '1.0.0' }], events: ['lights.#'] },
    resources: { cpu: '500m', memory: '4Gi' },
  },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
}

describe('node-passport.schema.json', () => {
  it('should be up to date with NodePassportSchema (regenerate: npx tsx packages/contracts/scripts/emit-node-passport-schema.ts)', async () => {
    const expected = JSON.parse(
      JSON.stringify({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        ...NodePassportSchema,
      }),
    )
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(expected)
  })

  it('should validate passports on its own, as another language would use it', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    addFormats.default(ajv)
    const validate = ajv.compile(JSON.parse(await readFile(file, 'utf8')))
    expect(validate(passport)).toBe(true)
    expect(validate({ ...passport, apiVersion: 'core.runtime/v1.2', extra: true })).toBe(true)
    expect(validate({ ...passport, apiVersion: 'core.runtime/v2' })).toBe(false)
    const bad = (metadata: object) =>
      validate({ ...passport, metadata: { ...passport.metadata, ...metadata } })
    expect(bad({ uid: 'nope' })).toBe(false)
    expect(bad({ name: 'Kitchen Hub' })).toBe(false)
    expect(bad({ nodeType: 'Hub' })).toBe(false)
    expect(bad({ labels: { room: '-kitchen' } })).toBe(false)
    expect(bad({ labels: { room: 'a'.repeat(64) } })).toBe(false)
    expect(bad({ labels: { '/room': 'a' } })).toBe(false)
    expect(
      validate({ ...passport, spec: { ...passport.spec, resources: { memory: '4 GB' } } }),
    ).toBe(false)
    expect(validate({ ...passport, status: { phase: 'Sleeping' } })).toBe(false)
  })
})
