// Loads web-tree-sitter and the tree-sitter-bash grammar once per process (parsers.md §1, §6).
// The grammar's .wasm is resolved through its package.json, so it works from src/ and dist/ alike.
import { createRequire } from 'node:module'
import path from 'node:path'
import { WardenError } from '@warden/policy'
import { Language, Parser } from 'web-tree-sitter'

const LOAD_TIMEOUT_MS = 15_000

let loaded: Parser | undefined
let loading: Promise<Parser> | undefined

/** The parser when it has loaded, else undefined (the synchronous fast path). */
export function loadedBashParser(): Parser | undefined {
  return loaded
}

/** Loads the parser (single flight, bounded wait). A failed load is retried by the next call. */
export function loadBashParser(): Promise<Parser> {
  if (loaded) return Promise.resolve(loaded)
  loading ??= withTimeout(load(), LOAD_TIMEOUT_MS).then(
    (parser) => {
      loaded = parser
      return parser
    },
    (error: unknown) => {
      loading = undefined
      throw new WardenError(
        'ERR_WARDEN_DESCRIBE',
        'describeShell: the tree-sitter-bash parser failed to load',
        {
          cause: error,
        },
      )
    },
  )
  return loading
}

async function load(): Promise<Parser> {
  await Parser.init()
  const require = createRequire(import.meta.url)
  const dir = path.dirname(require.resolve('tree-sitter-bash/package.json'))
  const language = await Language.load(path.join(dir, 'tree-sitter-bash.wasm'))
  const parser = new Parser()
  parser.setLanguage(language)
  return parser
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
