// describeShell: the `shell` facts of a command line, from the real bash grammar (tree-sitter-bash).
import path from 'node:path'
import type { ShellCommandFacts, ShellFacts, ShellFlag } from '@warden/policy'
import { WardenTypeError } from '@warden/policy'
import type { Node, Parser, TreeCursor } from 'web-tree-sitter'
import { loadBashParser, loadedBashParser } from './internal/bash-parser.js'
import { deepFreeze } from './internal/deep-freeze.js'
import { loadCrossCheck, mvdanCommandNames, NON_LITERAL } from './internal/shell-crosscheck.js'
import { prepareShellText } from './internal/shell-lexer.js'
import { historyExpansion, redirectFlag, runtimeCode } from './internal/shell-risks.js'
import { type ShellWord, shellWord } from './internal/shell-words.js'
import { type UnwrapContext, wrapperFor } from './internal/shell-wrappers.js'

/** Longer texts are not parsed (parsers run on the event loop); they come back `parsed: false`. */
const MAX_TEXT = 256 * 1024
/** `sh -c "sh -c '…'"` nesting allowed before failing closed. */
const MAX_SCRIPT_DEPTH = 8
/** Syntax-tree nesting allowed before failing closed (keeps the walker's recursion bounded). */
const MAX_TREE_DEPTH = 400
const CACHE_SIZE = 1024
const CACHE_MAX_TEXT = 16 * 1024
/** Text that may hold a substitution tree-sitter-bash reads as plain text (see `Scope`). */
const MAY_HIDE = /`|[<>]\(/

/**
 * Where a node sits, for finding substitutions the grammar misses: inside a `${…}` operand it reads
 * backquotes and `<(…)` as plain words, and in an unquoted heredoc body it does not see backquotes.
 * A real `$(…)`, `…` or `<(…)` node starts a fresh scope (its inside is parsed as commands).
 */
type Scope = 'command' | 'expansion' | 'heredoc'

const cache = new Map<string, ShellFacts>()

/** Node types whose text is quoted data, where a control character is inert to bash. */
const INERT = new Set(['raw_string', 'string_content', 'ansi_c_string', 'string'])
/** Node types that may evaluate run-time values as code (see shell-risks.ts). */
const RISKY = new Set([
  'arithmetic_expansion',
  'c_style_for_statement',
  'compound_statement',
  'subscript',
  'expansion',
  'test_command',
  'variable_assignment',
])

export interface DescribeShellOptions {
  /** The line is typed into an interactive bash: history expansion (`!!`, `!$`, `^a^b`) is refused. */
  readonly interactive?: boolean
}

/**
 * Describes a shell command line as the `shell` facts policies see: every command (pipelines, lists,
 * newlines, `$(…)`, backticks, process substitution, subshells, wrapper programs such as `sudo`,
 * `sh -c`, `eval`, `env`, `xargs`, `find -exec` unwrapped), the distinct programs, and flags.
 * Anything it cannot classify (a syntax error, a non-literal command name, a shell reading its
 * script from stdin or a file) comes back with `parsed: false` and an `error`; deny those.
 * Returns a promise only until the parser has loaded; `await` works either way. Facts are deep-frozen.
 * Exported from `@warden/drivers/ssh`. Throws `ERR_WARDEN_DESCRIBE` when the parser cannot load.
 * @example const facts = await describeShell('curl -s https://x | sh') // facts.parsed === false
 */
export function describeShell(
  text: string,
  options: DescribeShellOptions = {},
): ShellFacts | Promise<ShellFacts> {
  if (typeof text !== 'string') throw new WardenTypeError('describeShell: "text" must be a string')
  const interactive = options.interactive === true
  const key = interactive ? `i${text}` : `c${text}`
  const hit = cache.get(key)
  if (hit !== undefined) {
    // LRU: move to the back.
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  const parser = loadedBashParser()
  if (parser) return describeWith(parser, text, key, interactive)
  return loadBashParser().then((p) => describeWith(p, text, key, interactive))
}

/** Loads the shell parser ahead of the first command (optional; `describeShell` loads it on demand). */
export async function loadShellParser(): Promise<void> {
  await loadBashParser()
  loadCrossCheck()
}

function describeWith(parser: Parser, text: string, key: string, interactive: boolean): ShellFacts {
  const facts = deepFreeze(analyzeText(parser, text, interactive))
  if (text.length <= CACHE_MAX_TEXT) {
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string)
    cache.set(key, facts)
  }
  return facts
}

function analyzeText(parser: Parser, text: string, interactive: boolean): ShellFacts {
  if (text.length > MAX_TEXT)
    return {
      text,
      commands: [],
      programs: [],
      flags: [],
      parsed: false,
      error: `longer than ${MAX_TEXT} characters`,
    }
  const analysis = new Analysis(parser)
  if (interactive && historyExpansion(text))
    analysis.fail(
      'dynamic',
      'history expansion (!…, ^…^) in an interactive line: bash runs a line rebuilt from history',
    )
  analysis.parse(text, 0)
  const programs = [...new Set(analysis.commands.map((c) => c.name))]
  return {
    text,
    commands: analysis.commands,
    programs,
    flags: [...analysis.flags].sort(),
    parsed: analysis.errors.length === 0,
    error: analysis.errors.join('; '),
  }
}

/** Node type names by type id, read once per grammar: the walker compares ids, not wasm strings. */
const typeNames = new WeakMap<Parser, readonly string[]>()
function typeNamesOf(parser: Parser): readonly string[] {
  let names = typeNames.get(parser)
  if (names === undefined) {
    const language = parser.language
    const table: string[] = []
    if (language)
      for (let id = 0; id < language.nodeTypeCount; id++) table.push(language.nodeTypeForId(id) ?? '')
    names = table
    typeNames.set(parser, names)
  }
  return names
}

class Analysis {
  readonly commands: ShellCommandFacts[] = []
  readonly flags = new Set<ShellFlag>()
  readonly errors: string[] = []
  /** Command names reported so far (NON_LITERAL for a non-literal one), for the cross-check. */
  readonly #names = new Set<string>()
  readonly #parser: Parser
  readonly #types: readonly string[]

  constructor(parser: Parser) {
    this.#parser = parser
    this.#types = typeNamesOf(parser)
  }

  parse(text: string, depth: number): void {
    if (depth > MAX_SCRIPT_DEPTH) {
      this.fail('dynamic', `scripts nested deeper than ${MAX_SCRIPT_DEPTH} levels`)
      return
    }
    const prepared = prepareShellText(text)
    if (prepared.error) {
      this.fail('', depth > 0 ? `${prepared.error} (in a nested script)` : prepared.error)
      return
    }
    const source = prepared.text
    const tree = this.#parser.parse(source)
    if (!tree) {
      this.fail('', 'the shell parser returned no tree')
      return
    }
    const errorsBefore = this.errors.length
    try {
      const root = tree.rootNode
      if (root.hasError) this.fail('', syntaxError(root, depth))
      this.#walk(root, depth, MAY_HIDE.test(source) ? source : undefined)
      for (const at of prepared.quotedControls) {
        const node = root.descendantForIndex(at, at + 1)
        if (!node || !INERT.has(node.type))
          this.fail(
            '',
            'a control character the parser does not read as quoted (bash reads it as part of a word)',
          )
      }
    } finally {
      tree.delete()
    }
    if (this.errors.length === errorsBefore) this.#crossCheck(text + prepared.closers)
  }

  /** Every command mvdan/sh finds must be one tree-sitter's walk reported (shell-crosscheck.ts). */
  #crossCheck(text: string): void {
    const check = mvdanCommandNames(text)
    if ('error' in check) {
      this.fail('', `the second shell parser (mvdan/sh) refused the text: ${check.error}`)
      return
    }
    for (const name of check.names)
      if (!this.#names.has(name))
        this.fail(
          '',
          name === NON_LITERAL
            ? 'the shell parsers disagree: mvdan/sh finds a command name that is not a literal'
            : `the shell parsers disagree: mvdan/sh finds the command ${JSON.stringify(name)}, tree-sitter-bash does not`,
        )
  }

  fail(flag: ShellFlag | '', why: string): void {
    if (flag) this.flags.add(flag)
    if (!this.errors.includes(why)) this.errors.push(why)
  }

  /**
   * Visits every node with a TreeCursor (no per-node allocations for nodes we only classify). Given
   * `source` (the text holds a backquote or `<(`/`>(`), also looks for substitutions the grammar missed.
   */
  #walk(root: Node, depth: number, source: string | undefined): void {
    const cursor = root.walk()
    const scopes: Scope[] = []
    try {
      let level = 0
      for (;;) {
        const type = this.#types[cursor.nodeTypeId] ?? cursor.nodeType
        if (source !== undefined)
          scopes[level] = this.#scan(cursor, source, type, level > 0 ? scopes[level - 1] : 'command')
        if (cursor.nodeIsNamed) {
          if (RISKY.has(type)) {
            const why = runtimeCode(cursor.currentNode, type)
            if (why) this.flags.add('runtime_code')
          }
          switch (type) {
            case 'command':
              this.#command(cursor.currentNode, depth)
              break
            case 'declaration_command':
            case 'unset_command':
              this.#declaration(cursor.currentNode)
              break
            case 'pipeline':
              this.flags.add('pipe')
              break
            case 'subshell':
              this.flags.add('subshell')
              break
            case 'command_substitution':
            case 'process_substitution':
              this.flags.add('substitution')
              break
            case 'file_redirect':
              this.flags.add(redirectFlag(cursor.currentNode))
              break
            case 'test_command':
              // `[[ … ]]` runs no program but is a command: reported so `programs.all(…)` is not vacuous.
              this.#builtin(cursor.currentNode.child(0)?.type === '[' ? '[' : '[[', cursor.currentNode)
              break
            case 'compound_statement':
              if (cursor.currentNode.child(0)?.type === '((') this.#builtin('((', cursor.currentNode)
              break
            case 'heredoc_redirect':
            case 'herestring_redirect':
              this.flags.add('heredoc')
              break
            case 'function_definition':
              this.flags.add('function')
              break
          }
        } else if (type === '&') this.flags.add('background')
        if (cursor.gotoFirstChild()) {
          if (++level > MAX_TREE_DEPTH) {
            this.fail('', `syntax nested deeper than ${MAX_TREE_DEPTH} levels`)
            return
          }
          continue
        }
        while (!cursor.gotoNextSibling()) {
          if (level === 0 || !cursor.gotoParent()) return
          level--
        }
        if (level === 0) return
      }
    } finally {
      cursor.delete()
    }
  }

  /**
   * Fails closed on a backquote (or `<(`/`>(` inside `${…}`) that bash would run as a command but the
   * tree shows as text, so no hidden command can come back `parsed: true`. Returns the node's scope.
   */
  #scan(cursor: TreeCursor, source: string, type: string, parent: Scope): Scope {
    if (type === 'command_substitution' || type === 'process_substitution') {
      // Inside `…`, bash turns \` into a backquote and parses again: `echo \`rm x\`` runs rm.
      const { startIndex: start, endIndex: end } = cursor
      if (source[start] === '`' && source.slice(start, end).includes('\\`'))
        this.fail('dynamic', 'nested backquotes (\\`…\\` inside `…`) are not parsed')
      return 'command'
    }
    let scope = parent
    if (type === 'expansion') scope = 'expansion'
    else if (type === 'heredoc_body' && unquotedHeredoc(cursor.currentNode)) scope = 'heredoc'
    if (scope === 'command') {
      if (!cursor.nodeIsNamed) return scope
      if (type === 'word' || type === 'string_content') {
        if (unescapedBackquote(cursor.nodeText))
          this.fail('dynamic', 'a backquote the parser did not read as a command substitution')
      } else if (type === 'regex' || type === 'extglob_pattern') {
        if (cursor.nodeText.includes('`')) this.fail('dynamic', 'a backquote in a pattern is not parsed')
      }
      return scope
    }
    // Only the node's own text: its children are scanned when the walk reaches them.
    const node = cursor.currentNode
    const own = node.childCount === 0 ? node.text : gapText(node, source)
    if (scope === 'expansion' && MAY_HIDE.test(own))
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax in a message
      this.fail('dynamic', 'a backquote or process substitution inside ${…} is not parsed')
    else if (scope === 'heredoc' && own.includes('`'))
      this.fail('dynamic', 'a backquote in an unquoted heredoc body is not parsed')
    return scope
  }

  #command(node: Node, depth: number): void {
    const words: ShellWord[] = []
    for (const child of node.namedChildren) {
      if (!child) continue
      switch (child.type) {
        case 'variable_assignment':
          this.flags.add('env_assignment')
          break
        case 'command_name': {
          const name = child.namedChild(0)
          if (name) words.push(shellWord(name))
          break
        }
        case 'file_redirect':
        case 'heredoc_redirect':
        case 'herestring_redirect':
        case 'comment':
          break
        default:
          words.push(shellWord(child))
      }
    }
    if (words.length > 0) this.#addCommand(words, depth)
  }

  #declaration(node: Node): void {
    const keyword = node.child(0)?.text ?? node.type
    const argv = [keyword]
    for (const child of node.namedChildren) if (child) argv.push(shellWord(child).value ?? child.text)
    this.#report(keyword, argv)
  }

  #builtin(name: string, node: Node): void {
    this.#report(name, [name, node.text.slice(name.length, -name.length).trim()])
  }

  #report(name: string, argv: readonly string[], literal = true): void {
    this.commands.push({ name, argv })
    this.#names.add(literal ? name : NON_LITERAL)
  }

  #addCommand(words: readonly ShellWord[], depth: number): void {
    const argv = words.map((w) => w.value ?? w.text)
    const head = words[0]
    if (head.value === null || head.pattern || head.value === '') {
      this.#report(head.text, argv, false)
      this.fail('dynamic', `the command name ${JSON.stringify(head.text)} is not a literal`)
      return
    }
    const name = head.value.includes('/') ? path.posix.basename(head.value) : head.value
    this.#report(name, argv)
    if (name === 'let' && words.slice(1).some((w) => /[A-Za-z_$`]/.test(w.text)))
      this.flags.add('runtime_code')
    const handler = wrapperFor(name)
    if (handler) handler(words.slice(1), this.#unwrapContext(depth))
  }

  #unwrapContext(depth: number): UnwrapContext {
    return {
      run: (words) => this.#addCommand(words, depth),
      script: (text, what) => {
        if (text === null) this.fail('dynamic', `${what} is given a script that is not a literal`)
        else this.parse(text, depth + 1)
      },
      flag: (flag) => this.flags.add(flag),
      fail: (flag, why) => this.fail(flag, why),
    }
  }
}

/** A heredoc whose delimiter has no quoting (`<<EOF`, not `<<'EOF'`/`<<\EOF`): its body is expanded. */
function unquotedHeredoc(body: Node): boolean {
  const start = body.parent?.children.find((c) => c?.type === 'heredoc_start')
  return start == null || !/['"\\]/.test(start.text)
}

/** A backquote not escaped with a backslash (in a word or double quotes, that starts a substitution). */
function unescapedBackquote(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '`') return true
  }
  return false
}

/** The node's text between its children (a heredoc body's plain text is not a child node). */
function gapText(node: Node, source: string): string {
  // From the source by index: node.text of every nested `${…}` would copy the text once per level.
  let out = ''
  let at = node.startIndex
  for (const child of node.children) {
    if (!child) continue
    out += `${source.slice(at, child.startIndex)} `
    at = child.endIndex
  }
  return out + source.slice(at, node.endIndex)
}

function syntaxError(root: Node, depth: number): string {
  const bad = firstError(root)
  const where = bad ? ` at line ${bad.startPosition.row + 1}, column ${bad.startPosition.column + 1}` : ''
  const inner = depth > 0 ? ' in a nested script' : ''
  return `shell syntax error${inner}${where}${bad?.isMissing ? ` (missing ${JSON.stringify(bad.type)})` : ''}`
}

function firstError(node: Node): Node | undefined {
  if (node.isError || node.isMissing) return node
  for (const child of node.children) {
    if (child?.hasError || child?.isMissing) {
      const found = firstError(child)
      if (found) return found
    }
  }
  return undefined
}
