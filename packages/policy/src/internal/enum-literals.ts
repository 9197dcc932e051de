// Finds comparisons of an enumerated request field with a string literal it can never hold
// (`principal.type == "agnet"`): the rule would silently never match.
import type { ASTNode } from '@marcbachmann/cel-js'

const KUBE_VERBS = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'exec',
  'attach',
  'portforward',
  'reveal',
  'impersonate',
]
/** Fields whose values are a closed set, by CEL path. Keep in sync with ../request.ts. */
export const ENUM_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'principal.type': ['service', 'agent', 'workload', 'user'],
  'resource.kind': ['postgres', 'mysql', 'ssh', 'kubernetes', 'http', 'tool'],
  action: [
    'sql.query',
    'ssh.exec',
    'ssh.shell',
    'sftp.read',
    'sftp.write',
    'sftp.remove',
    'ssh.forward',
    ...KUBE_VERBS.map((v) => `kube.${v}`),
    'http.request',
    'tool.call',
  ],
  'kube.verb': KUBE_VERBS,
  'sftp.op': ['read', 'write', 'remove'],
}

export interface EnumLiteralProblem {
  readonly field: string
  readonly literal: string
  readonly allowed: readonly string[]
  /** Offsets of the literal in the expression. */
  readonly start: number
  readonly end: number
}

type Node = { op: string; args: unknown; start?: number; end?: number }
const isNode = (n: unknown): n is Node =>
  n !== null && typeof n === 'object' && typeof (n as Node).op === 'string' && 'args' in (n as object)

function fieldPath(n: Node): string | undefined {
  if (n.op === 'id') return n.args as string
  if (n.op === '.') {
    const [target, name] = n.args as [Node, string]
    const base = fieldPath(target)
    return base === undefined ? undefined : `${base}.${name}`
  }
  return undefined
}

export function findEnumLiteralProblems(ast: ASTNode): EnumLiteralProblem[] {
  const problems: EnumLiteralProblem[] = []
  const check = (field: Node, literal: Node) => {
    const path = fieldPath(field)
    const allowed = path === undefined ? undefined : ENUM_FIELDS[path]
    if (allowed === undefined || literal.op !== 'value' || typeof literal.args !== 'string') return
    if (allowed.includes(literal.args)) return
    const range = { start: literal.start ?? 0, end: literal.end ?? 0 }
    problems.push({ field: path as string, literal: literal.args, allowed, ...range })
  }
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) {
      for (const x of n) visit(x)
      return
    }
    if (!isNode(n)) return
    const args = n.args
    if ((n.op === '==' || n.op === '!=') && Array.isArray(args)) {
      check(args[0] as Node, args[1] as Node)
      check(args[1] as Node, args[0] as Node)
    }
    if (n.op === 'in' && Array.isArray(args) && isNode(args[1]) && args[1].op === 'list')
      for (const item of args[1].args as Node[]) check(args[0] as Node, item)
    if (n.op !== 'value' && n.op !== 'id') visit(args)
  }
  visit(ast)
  return problems
}
