// The sqlparser-rs WASM instance behind describeMysql, and its recovery after a trap.
//
// A stack overflow inside the WASM parser (e.g. ~800 ORs in one WHERE) raises
// `WebAssembly.RuntimeError` and leaves that instance broken for every later call; `init()` of
// the package does not help, because its glue module caches the instance. Recovery (parsers.md
// §5.4): evaluate the wasm-bindgen glue again under a new URL (a fresh module record) and
// `initSync` it with the precompiled module. We keep one spare glue module imported ahead of
// time, so recovery is synchronous and the describer never waits after the first load.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

// The project's lib settings (ES2023, no DOM) do not declare WebAssembly; these are the parts used.
type WasmModule = object
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>
  RuntimeError: new (...args: never[]) => Error
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

/** A WebAssembly trap (stack overflow, out-of-bounds access): the instance is unusable afterwards. */
export function isWasmTrap(error: unknown): boolean {
  return error instanceof WASM.RuntimeError
}

/** The subset of the wasm-bindgen glue (`wasm/sqlparser_rs_wasm.js`) this driver calls. */
interface SqlparserGlue {
  initSync(options: { module: WasmModule }): unknown
  parse_sql(dialect: string, sql: string): unknown
}

const require = createRequire(import.meta.url)
// `require.resolve` gives dist/index.cjs; the glue and the .wasm sit in ../wasm/ (0.62.x layout).
const entry = pathToFileURL(require.resolve('@guanmingchiu/sqlparser-ts'))
const GLUE_URL = new URL('../wasm/sqlparser_rs_wasm.js', entry).href
const WASM_URL = new URL('../wasm/sqlparser_rs_wasm_bg.wasm', entry)

let compiled: WasmModule | undefined
let active: SqlparserGlue | undefined
let spare: SqlparserGlue | undefined
let sparePending: Promise<void> | undefined
let loading: Promise<void> | undefined
let generation = 0
let recoveries = 0

async function importGlue(): Promise<SqlparserGlue> {
  // A new query string is a new module record: fresh `wasm`, fresh memory views.
  generation += 1
  return (await import(/* @vite-ignore */ `${GLUE_URL}?instance=${generation}`)) as SqlparserGlue
}

function refillSpare(): void {
  if (spare !== undefined || sparePending !== undefined) return
  sparePending = importGlue().then(
    (glue) => {
      spare = glue
      sparePending = undefined
    },
    () => {
      sparePending = undefined // retried on the next recovery; a missing spare only delays recovery
    },
  )
}

/** Loads the parser once (compile + first instance + a spare). Idempotent. */
export function loadParser(): Promise<void> {
  if (active !== undefined) return Promise.resolve()
  loading ??= (async () => {
    compiled ??= await WASM.compile(await readFile(WASM_URL))
    const glue = await importGlue()
    glue.initSync({ module: compiled })
    active = glue
    refillSpare()
  })().catch((error: unknown) => {
    loading = undefined
    throw error
  })
  return loading
}

/** The parser if loaded (synchronous path), otherwise undefined. */
export function parserReady(): boolean {
  return active !== undefined
}

/** Parses with the live instance. Throws the parser's error; on a WASM trap, recreates the instance first. */
export function parseMysql(sql: string): unknown {
  const glue = active
  if (glue === undefined) throw new Error('sqlparser not loaded')
  try {
    return glue.parse_sql('mysql', sql)
  } catch (error) {
    if (isWasmTrap(error)) recover(glue)
    throw error
  }
}

function recover(broken: SqlparserGlue): void {
  if (active !== broken) return
  recoveries += 1
  active = undefined
  loading = undefined
  const next = spare
  spare = undefined
  if (next !== undefined && compiled !== undefined) {
    next.initSync({ module: compiled })
    active = next
  }
  refillSpare()
  // Without a spare (its import failed), the next describe waits for loadParser() again.
}

/** Test seam: how many times the instance was recreated. */
export function parserRecoveries(): number {
  return recoveries
}
