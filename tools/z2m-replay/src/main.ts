#!/usr/bin/env -S npx tsx
/**
 * z2m-replay: publishes the committed Zigbee2MQTT recording to an MQTT broker.
 *
 *   pnpm --filter @core/z2m-replay start -- --url mqtt://127.0.0.1:1883
 *   pnpm --filter @core/z2m-replay start -- --open-contact
 *
 * Exit codes: 0 done, 1 the broker could not be reached or refused a message, 2 bad usage.
 */
import { parseArgs } from 'node:util'
import { loadRecording, RECORDING_PATH, replay } from './replay.js'

const USAGE = `Usage: z2m-replay [options]

Publishes a recording of Zigbee2MQTT's MQTT messages: the retained bridge state, info and
device list (a light, a plug, a contact sensor, a temperature sensor), their availability and
a first state message of each.

Options:
  --url <url>           Broker URL (default $CORE_MQTT_URL or mqtt://127.0.0.1:1883)
  --username <name>     Broker user name
  --password <secret>   Broker password
  --base-topic <topic>  Zigbee2MQTT base topic (default: the recording's, zigbee2mqtt)
  --scenario <name>     Publish only a scenario: contact-open, contact-close, light-offline
  --open-contact        Same as --scenario contact-open (the front door opens)
  --close-contact       Same as --scenario contact-close
  --clear               Clear the recording's retained messages (empty retained payloads)
  --interval-ms <n>     Pause between messages, ms (default 0)
  --file <path>         Another recording (default ${RECORDING_PATH})
  --list                List the scenarios and exit
  --quiet               Print nothing but errors
  -h, --help            This help
`

async function main(argv: string[]): Promise<number> {
  const args = argv[0] === '--' ? argv.slice(1) : argv
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(args).values
  } catch (error) {
    process.stderr.write(`z2m-replay: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const chosen = [
    values.scenario,
    values['open-contact'] ? 'contact-open' : undefined,
    values['close-contact'] ? 'contact-close' : undefined,
    values.clear ? 'clear' : undefined,
  ].filter((v) => v !== undefined)
  if (chosen.length > 1) {
    process.stderr.write(
      'z2m-replay: choose one of --scenario, --open-contact, --close-contact, --clear\n',
    )
    return 2
  }
  const intervalMs = values['interval-ms'] === undefined ? 0 : Number(values['interval-ms'])
  if (!Number.isInteger(intervalMs) || intervalMs < 0) {
    process.stderr.write('z2m-replay: --interval-ms takes a whole number of milliseconds ≥ 0\n')
    return 2
  }
  if (values.list) {
    const recording = await loadRecording(values.file)
    process.stdout.write(`${['all', 'clear', ...Object.keys(recording.scenarios)].join('\n')}\n`)
    return 0
  }
  const url = values.url ?? process.env.CORE_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
  try {
    const count = await replay({
      url,
      ...(values.username === undefined ? {} : { username: values.username }),
      ...(values.password === undefined ? {} : { password: values.password }),
      ...(values['base-topic'] === undefined ? {} : { baseTopic: values['base-topic'] }),
      ...(values.file === undefined ? {} : { file: values.file }),
      what: chosen[0] ?? 'all',
      intervalMs,
      onPublish: (topic, payload, retain) => {
        if (!values.quiet) {
          const shown =
            payload.length > 100 ? `${payload.slice(0, 100)}… (${payload.length} bytes)` : payload
          process.stdout.write(
            `${retain ? 'retained ' : ''}${topic} ${shown === '' ? '(empty)' : shown}\n`,
          )
        }
      },
    })
    if (!values.quiet) process.stdout.write(`published ${count} message(s) to ${url}\n`)
    return 0
  } catch (error) {
    const message = (error as Error).message
    process.stderr.write(`z2m-replay: ${message}\n`)
    if (/No scenario/.test(message)) return 2
    if (/Cannot connect/.test(message)) {
      process.stderr.write(
        'Is the broker running? Start Mosquitto with: mosquitto -d -c /etc/mosquitto/mosquitto.conf\n',
      )
    }
    return 1
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      'base-topic': { type: 'string' },
      scenario: { type: 'string' },
      'open-contact': { type: 'boolean' },
      'close-contact': { type: 'boolean' },
      clear: { type: 'boolean' },
      'interval-ms': { type: 'string' },
      file: { type: 'string' },
      list: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

process.exitCode = await main(process.argv.slice(2))
