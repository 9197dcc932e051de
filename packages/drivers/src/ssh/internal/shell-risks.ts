// biome-ignore-all lint/suspicious/noTemplateCurlyInString: shell text with ${…}, not templates
// Facts about constructs whose effect depends on run-time values or on where output goes (issue 15):
// the finer redirection flags and `runtime_code`, raised where bash evaluates data as code.
import type { ShellFlag } from '@warden/policy'
import type { Node } from 'web-tree-sitter'

/**
 * Variables bash (or the interactive shell around it) executes, or trusts to find and load programs:
 * assigning one changes what later commands run (`BASH_CMDS[ls]=/bin/rm; ls`, `PATH=/tmp/x:$PATH`,
 * `PROMPT_COMMAND=…`, `PS1='$(…)'`, `LD_PRELOAD=…`).
 */
const TRUSTED = new Set([
  'BASH_CMDS',
  'BASH_ALIASES',
  'BASH_ENV',
  'BASH_LOADABLES_PATH',
  'BASH_XTRACEFD',
  'BASHOPTS',
  'SHELLOPTS',
  'ENV',
  'IFS',
  'PATH',
  'CDPATH',
  'EXECIGNORE',
  'GLOBIGNORE',
  'PROMPT_COMMAND',
  'PS0',
  'PS1',
  'PS2',
  'PS3',
  'PS4',
  'HISTFILE',
  'HISTCONTROL',
  'HISTIGNORE',
  'HISTTIMEFORMAT',
  'INPUTRC',
  'POSIXLY_CORRECT',
  'TMOUT',
])
const TRUSTED_PREFIX = /^(LD_|DYLD_|BASH_FUNC_)/

/** An assignment to a variable bash executes or trusts (the name before any `[…]` subscript). */
export function trustedVariable(name: string): boolean {
  const base = name.replace(/\[.*$/s, '')
  return TRUSTED.has(base) || TRUSTED_PREFIX.test(base)
}

const ARITH_TEST = /(^|\s)-(eq|ne|lt|le|gt|ge)(\s|$)/
const VARIABLE_TEST = /(^|\s)-[vR](\s|$)/
/** `${name:offset}`: offset and length are arithmetic (evaluated like `$((…))`). */
const SUBSTRING = /^\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?:([^-=?+][^}]*)\}$/s
const TRANSFORM = /@[A-Za-z]\}$/

/** Whether an arithmetic context (or subscript) names a variable: bash evaluates its value as an
 * expression, and `a[$(…)]` in that value runs a command (`x='a[$(rm f)]'; echo $((x))`). */
export function arithmeticOverValues(node: Node): boolean {
  for (const d of node.descendantsOfType(['variable_name', 'simple_expansion', 'expansion', 'word'])) {
    if (!d) continue
    if (d.type !== 'word' || /[A-Za-z_]/.test(d.text)) return true
  }
  return false
}

/** `runtime_code` checks for one node, by type; returns a reason or '' when none applies. */
export function runtimeCode(node: Node, type: string): string {
  switch (type) {
    case 'arithmetic_expansion':
    case 'c_style_for_statement':
      return arithmeticOverValues(node) ? 'arithmetic over a variable' : ''
    case 'compound_statement':
      return node.child(0)?.type === '((' && arithmeticOverValues(node) ? 'arithmetic over a variable' : ''
    case 'subscript': {
      const index = node.childForFieldName('index')
      if (!index || /^(@|\*|-?[0-9]+)$/.test(index.text)) return ''
      return 'an array subscript (evaluated as arithmetic)'
    }
    case 'expansion': {
      const text = node.text
      if (text.startsWith('${!')) return 'an indirect expansion ${!…}'
      if (TRANSFORM.test(text)) return 'a transforming expansion ${…@…}'
      const m = SUBSTRING.exec(text)
      if (m && /[A-Za-z_$`]/.test(m[2])) return 'a substring offset (evaluated as arithmetic)'
      return ''
    }
    case 'test_command': {
      const text = node.text
      if (VARIABLE_TEST.test(text)) return 'a [[ -v ]] test (its subscript is evaluated)'
      if (ARITH_TEST.test(text) && arithmeticOverValues(node)) return 'an arithmetic [[ ]] comparison'
      return ''
    }
    case 'variable_assignment': {
      const name = node.childForFieldName('name')?.text ?? ''
      return trustedVariable(name) ? `an assignment to ${name.replace(/\[.*$/s, '')}` : ''
    }
    default:
      return ''
  }
}

/**
 * The flag of one `file_redirect`: `fd_dup` (`2>&1`, `>&2`, `3<&-`), `devnull` (to or from
 * /dev/null), `redirect_in` (reading a file), or `redirect` (writing a file, or a target only known at
 * run time).
 */
export function redirectFlag(node: Node): ShellFlag {
  let operator = ''
  for (const child of node.children) if (child && !child.isNamed) operator += child.type
  const destination = node.childForFieldName('destination')
  const target = destination?.text ?? ''
  if (
    (operator.endsWith('>&') || operator.endsWith('<&')) &&
    (target === '' || /^([0-9]+-?|-)$/.test(target))
  )
    return 'fd_dup'
  if (operator === '>&-' || operator === '<&-') return 'fd_dup'
  if (target === '/dev/null' && destination?.type === 'word') return 'devnull'
  // `<>` opens read-write; tree-sitter may spell it as `<` followed by a `>` word.
  if (operator === '<' && !node.text.includes('<>') && destination?.type === 'word' && !/[$`]/.test(target))
    return 'redirect_in'
  return 'redirect'
}

/** Interactive bash expands `!…` from history before parsing: the line that runs is not the text. */
export function historyExpansion(text: string): boolean {
  if (/^\s*\^/.test(text)) return true // ^old^new
  let single = false
  let double = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\' && !single) i++
    else if (c === "'" && !double) single = !single
    else if (c === '"' && !single) double = !double
    else if (c === '!' && !single) {
      const next = text[i + 1]
      if (next !== undefined && !/[\s=(]/.test(next) && !(double && next === '"')) return true
    }
  }
  return false
}
