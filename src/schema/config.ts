/**
 * A config file: any number of named routes of the four kinds in one process, each with the
 * same options as the program's API (and command line), plus process-wide settings. The
 * JSON Schema for editors is generated from this (`npm run build:schema`).
 */
import { z } from 'zod'
import { SHAPES, crossChecks, type ProgramKind } from './programs'
import { parseWith } from './issues'
import { option, optionRegistry } from './option'
import { address, JSON_INPUT, LIST, text, TYPE_NAME, wholeNumber, type ListMeta, type TypeName } from './values'

const KINDS = ['client', 'server', 'proxy', 'reverseproxy'] as const satisfies readonly ProgramKind[]

function routeOf<K extends ProgramKind>(kind: K) {
  return z
    .strictObject({
      /** A name for the route, unique in the file: it labels its logs and metrics. */
      name: text('a route name').regex(/^[A-Za-z0-9_.-]+$/, { error: 'may hold only letters, digits, _ . -' }),
      /** What the route is: `client`, `server`, `proxy` or `reverseproxy`. */
      kind: z.literal(kind),
      ...SHAPES[kind],
    })
    .superRefine(crossChecks(kind))
}

export const routeSchema = z.discriminatedUnion('kind', [routeOf('client'), routeOf('server'), routeOf('proxy'), routeOf('reverseproxy')], {
  error: (iss) => {
    const kind = (iss.input as { kind?: unknown } | undefined)?.kind
    if (iss.input === null || typeof iss.input !== 'object') return 'must be a route: { name, kind, ...options }'
    return kind === undefined ? `is required: one of ${KINDS.join(', ')}` : `${JSON.stringify(kind)} is not one of ${KINDS.join(', ')}`
  },
})

/** Seconds between stats lines. */
export const statsInterval = wholeNumber(1, 86_400)
/** How log lines are written. */
export const logFormat = z.enum(['text', 'json'], { error: (iss) => `${JSON.stringify(iss.input)} is not one of text, json` })

/** The process settings a single program takes on its command line (a config file has them too). */
export const processSettingsShape = {
  metricsAddr: option(address(true), { flag: 'metrics-addr', value: 'HOST:PORT', help: 'Serve Prometheus metrics at http://HOST:PORT/metrics' }),
  statsInterval: option(statsInterval, { flag: 'stats-interval', value: 'SECONDS', help: 'Print rates and any loss every SECONDS on stderr' }),
  logFormat: option(logFormat, { flag: 'log-format', value: 'text|json', help: 'Log lines as text or one JSON object each', default: 'text' }),
}
export const processSchema = z.strictObject(processSettingsShape)

export const configSchema = z
  .strictObject({
    /** The routes to run. */
    routes: z
      .array(routeSchema, { error: (iss) => (iss.input === undefined ? 'is required: a list of routes' : 'must be a list of routes') })
      .min(1, { error: 'is empty: give at least one route' }),
    /** Serve Prometheus metrics of every route at `http://ADDR/metrics`. */
    metrics: z.strictObject({ addr: address(true) }).optional(),
    /** Print one line of rates and losses per route every this many seconds (stderr). */
    statsInterval: statsInterval.optional(),
    /** How log lines are written: `text` (default) or `json`; with or without a timestamp. */
    log: z
      .strictObject({
        format: logFormat.optional(),
        timestamps: z.boolean({ error: 'must be true or false' }).optional(),
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>()
    config.routes.forEach((route, i) => {
      const first = seen.get(route.name)
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'name'],
          message: `${JSON.stringify(route.name)} is also the name of routes[${first}]; route names must be unique`,
        })
      else seen.set(route.name, i)
    })
  })

export type Config = z.output<typeof configSchema>
export type RouteConfig = z.output<typeof routeSchema>

/**
 * A route of a checked config, its options as the file gives them: the program parses them
 * itself when it starts, as its create…() does. (Its parsed options would not do: parsing is
 * not idempotent, `rotate: 100M` becomes `{ bytes }`, which the program's schema refuses.)
 */
export interface RouteInput {
  name: string
  kind: ProgramKind
  options: Record<string, unknown>
}

/** A checked config, with each route's options as given. */
export type LoadedConfig = Omit<Config, 'routes'> & { routes: RouteInput[] }

/** Checks a config (the object a config file holds); the first problem is thrown, naming its path. */
export function parseConfig(input: unknown): LoadedConfig {
  const config = parseWith(configSchema, input)
  // Checked: `routes` is a list of objects, in the same order.
  const given = (input as { routes: Array<Record<string, unknown>> }).routes
  const routes = config.routes.map((route, i) => {
    const { name: _name, kind: _kind, ...options } = given[i]
    return { name: route.name, kind: route.kind, options }
  })
  return { ...config, routes }
}

type Json = Record<string, unknown>

/** Where `inputJsonSchema(…, { typeNames: true })` puts a schema's name and doc in the published types (a TypeName). */
export const TYPE_KEY = 'x-mproxy-type'

/**
 * The JSON Schema of `schema` as a file gives it (`io: 'input'`). zod writes it; what zod cannot
 * see through is filled in from the schemas' metadata: the value a text-or-number option takes
 * (`JSON_INPUT`), the items of a one-or-a-list option (`LIST`, written from the items' own
 * schemas), and each option's help as its description.
 */
export function inputJsonSchema(schema: z.ZodType, { typeNames = false } = {}): Json {
  const { $schema: _, ...json } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const meta = z.globalRegistry.get(ctx.zodSchema) as Json | undefined
      const list = meta?.[LIST] as ListMeta | undefined
      let replacement = meta?.[JSON_INPUT] as Json | undefined
      if (list) {
        const forms = list.items.map((f) => inputJsonSchema(f, { typeNames }))
        const item = forms.length === 1 ? forms[0] : { anyOf: forms }
        if (item.type === 'string' && item.description === undefined) item.description = list.what
        if (typeNames && list.typeName) item[TYPE_KEY] = list.typeName
        replacement = { anyOf: [item, { type: 'array', items: item, minItems: list.min }] }
      }
      const target = ctx.jsonSchema as Json
      if (replacement) {
        // What zod wrote about the value is replaced; a default or description it found stays.
        const { default: given, description } = target
        for (const key of Object.keys(target)) delete target[key]
        Object.assign(target, structuredClone(replacement))
        if (given !== undefined) target.default = given
        if (description !== undefined) target.description = description
      }
      // zod leaves out the default of a value it transforms (it is the output's); ours are plain values.
      const own = (ctx.zodSchema as unknown as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def
      if (own.type === 'default' && target.default === undefined && ['number', 'string', 'boolean'].includes(typeof own.defaultValue))
        target.default = own.defaultValue
      const option = optionRegistry.get(ctx.zodSchema)
      if (option && target.description === undefined) target.description = option.help
      const name = meta?.[TYPE_NAME] as TypeName | undefined
      // zod writes a schema's metadata into its JSON Schema: the name is for the types only.
      delete target[TYPE_NAME]
      if (typeNames && name) target[TYPE_KEY] = name
    },
  }) as Json
  return json
}

/** The JSON Schema of a config file, for editors. */
export function configJsonSchema(): unknown {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...inputJsonSchema(configSchema) }
}
