// The second parser (issue 15): mvdan/sh (Go, compiled to JS as the `mvdan-sh` package), a bash parser
// of a different origin from tree-sitter-bash. It parses the original text (not the rewritten one
// tree-sitter reads), and every command name it finds must be among those tree-sitter's walk reported,
// so a divergence in either parser, or in the bash reader rules applied for tree-sitter, fails closed.
// mvdan-sh is GopherJS output (1.5 MB, ~0.4 s to load), so it is loaded once, on first use.
import { createRequire } from 'node:module'
import path from 'node:path'
import { decodeAnsiC } from './shell-words.js'

/** A command name that is not a literal (an expansion or a glob), as both sides spell it. */
export const NON_LITERAL = '\u0000non-literal'

// Just the parts of mvdan-sh's AST read here.
interface MvNode {
  readonly [key: string]: unknown
}
interface MvSyntax {
  NewParser(): { Parse(text: string, name: string): MvNode }
  Walk(node: MvNode, visit: (node: MvNode | null) => boolean): void
  NodeType(node: MvNode): string
}

let syntax: MvSyntax | undefined

function load(): MvSyntax {
  if (!syntax) {
    const require = createRequire(import.meta.url)
    syntax = (require('mvdan-sh') as { syntax: MvSyntax }).syntax
  }
  return syntax
}

/** Loads mvdan-sh ahead of the first command. */
export function loadCrossCheck(): void {
  load()
}

export type CrossCheck = { readonly names: ReadonlySet<string> } | { readonly error: string }

/** The command names mvdan/sh finds in `text` (basenames, after quote removal), or its parse error. */
export function mvdanCommandNames(text: string): CrossCheck {
  const sh = load()
  let file: MvNode
  try {
    file = sh.NewParser().Parse(text, '')
  } catch (error) {
    const e = error as { Error?: () => string }
    const message = typeof e?.Error === 'function' ? e.Error() : String(error)
    return { error: message.replace(/^:/, 'line ') }
  }
  const names = new Set<string>()
  sh.Walk(file, (node) => {
    if (!node) return true
    switch (sh.NodeType(node)) {
      case 'CallExpr': {
        const args = node.Args as MvNode[]
        if (args.length > 0) names.add(commandName(sh, args[0]))
        break
      }
      case 'DeclClause':
        names.add(String((node.Variant as MvNode).Value))
        break
      case 'TestClause':
        names.add('[[')
        break
      case 'ArithmCmd':
        names.add('((')
        break
      case 'LetClause':
        names.add('let')
        break
    }
    return true
  })
  return { names }
}

function commandName(sh: MvSyntax, word: MvNode): string {
  let value = ''
  for (const part of word.Parts as MvNode[]) {
    const piece = literal(sh, part)
    if (piece === null) return NON_LITERAL
    value += piece
  }
  if (value === '') return NON_LITERAL
  return value.includes('/') ? path.posix.basename(value) : value
}

function literal(sh: MvSyntax, part: MvNode): string | null {
  switch (sh.NodeType(part)) {
    case 'Lit': {
      const text = String(part.Value)
      if (/(^|[^\\])([*?]|\[.*\]|\{.*\})/s.test(text)) return null // a glob or brace pattern
      return text.replace(/\\(.)/gs, '$1')
    }
    case 'SglQuoted':
      return part.Dollar ? decodeAnsiC(String(part.Value)) : String(part.Value)
    case 'DblQuoted': {
      let out = ''
      for (const inner of part.Parts as MvNode[]) {
        if (sh.NodeType(inner) !== 'Lit') return null
        out += String(inner.Value).replace(/\\([$`"\\])/g, '$1')
      }
      return out
    }
    default:
      return null
  }
}
