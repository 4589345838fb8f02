/**
 * Reading a config file: YAML, JSON or TOML by its extension, read with the same bounds as
 * certificates (a regular file of at most 1 MiB), parsed, then checked against the config
 * schema. Every problem is one line naming the file and the line, or the option's path.
 */
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { isMap, isScalar, isSeq, parseDocument, parse as parseYaml, YAMLParseError } from 'yaml'
import { MproxyError, usageError } from '../errors'
import { parseConfig, type LoadedConfig } from '../schema/config'
import { renderPath, type Path } from '../naming'

/** The path of the key that starts at `offset` (a duplicate key the YAML parser found). */
function keyPath(node: unknown, offset: number, path: PropertyKey[] = []): Path | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key : undefined
      const name = String(key?.value)
      if (key?.range?.[0] === offset) return [...path, name]
      const inner = keyPath(pair.value, offset, [...path, name])
      if (inner) return inner
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const inner = keyPath(item, offset, [...path, i])
      if (inner) return inner
    }
  }
  return undefined
}

/**
 * Refuses a key given twice in one object, as YAML and TOML do (JSON.parse would keep the
 * last one silently), naming the key by its path. JSON is YAML, so the YAML parser finds them.
 */
function refuseDuplicateKeys(text: string, file: string): void {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true })
  const duplicate = doc.errors.find((e) => e.code === 'DUPLICATE_KEY')
  if (!duplicate) return
  const at = duplicate.linePos?.[0]
  const where = at ? `:${at.line}:${at.col}` : ''
  const key = keyPath(doc.contents, duplicate.pos[0])
  throw usageError(`${file}${where}: ${key ? `${renderPath(key)} is given twice` : 'a key is given twice'}; keys must be unique`)
}

/** Config files larger than this are refused: a config is a page, not a data file. */
export const MAX_CONFIG_BYTES = 1024 * 1024

const FORMATS: Record<string, 'yaml' | 'json' | 'toml'> = { '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json', '.toml': 'toml' }

/** The file's text, if it is a readable regular file within the bound. */
async function readBounded(file: string): Promise<string> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new MproxyError(
      'EMPROXY_FILE',
      `cannot read config ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? err)}`,
    )
  }
  if (!info.isFile()) throw new MproxyError('EMPROXY_FILE', `cannot read config ${file}: not a regular file`)
  if (info.size > MAX_CONFIG_BYTES) throw new MproxyError('EMPROXY_FILE', `cannot read config ${file}: larger than ${MAX_CONFIG_BYTES} bytes`)
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new MproxyError('EMPROXY_FILE', `cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/** Parses config text of `format`; a syntax error names the file and where. */
export function parseConfigText(text: string, format: 'yaml' | 'json' | 'toml', file: string): unknown {
  try {
    if (format === 'json') {
      const data: unknown = JSON.parse(text)
      refuseDuplicateKeys(text, file)
      return data
    }
    if (format === 'toml') return parseToml(text)
    refuseDuplicateKeys(text, file)
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true })
  } catch (err) {
    if (err instanceof MproxyError) throw err
    if (err instanceof YAMLParseError) {
      const at = err.linePos?.[0]
      const where = at ? `:${at.line}:${at.col}` : ''
      throw usageError(`${file}${where}: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`)
    }
    const e = err as { line?: number; column?: number; message?: string }
    let message = String(e.message ?? err).split('\n')[0]
    let where = e.line !== undefined ? `:${e.line}${e.column !== undefined ? `:${e.column}` : ''}` : ''
    // JSON.parse says "at position N": say the line and column instead.
    const position = /(?: in JSON)? at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(message)
    if (format === 'json' && position) {
      const before = text.slice(0, Number(position[1]))
      const lines = before.split('\n')
      where = `:${lines.length}:${lines[lines.length - 1].length + 1}`
      message = message.slice(0, position.index)
    }
    throw usageError(`${file}${where}: ${message}`)
  }
}

/** Reads and parses a config file, unchecked: what `start()` and `reload()` take. */
export async function readConfigData(file: string): Promise<unknown> {
  const format = FORMATS[path.extname(file).toLowerCase()]
  if (!format) throw usageError(`--config: ${file} has no known extension; use .yaml, .yml, .json or .toml`)
  return parseConfigText(await readBounded(file), format, file)
}

/** Reads, parses and checks a config file. */
export async function readConfigFile(file: string): Promise<LoadedConfig> {
  return parseConfig(await readConfigData(file))
}
