/**
 * Writes `schemas/node-passport.schema.json`: the NodePassport a node registers with the node
 * registry, as a JSON Schema 2020-12 document, for docs, editors and other languages.
 * Generated from `NodePassportSchema`; a test in this package fails when the file is stale.
 *
 * Run from the repository root: `npx tsx packages/contracts/scripts/emit-node-passport-schema.ts`
 */
import { NodePassportSchema } from '../src/node-passport.js'
import { emitSchema } from './emit-schema.js'

emitSchema('node-passport.schema.json', NodePassportSchema)
