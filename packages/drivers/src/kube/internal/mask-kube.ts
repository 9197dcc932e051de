// Masks Kubernetes response objects: Secret payloads unless policy allows revealing them, then the policy's
// own masks (JSON paths and detectors) through the command's masker.
import type { Masker } from '@warden/core'

type Obj = Record<string, any>

const MASKED_B64 = Buffer.from('***').toString('base64')
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
// The core Secret printer's columns (name, type, number of keys, age): no values. A Table of Secrets keeps
// these cells; any other column is masked, since we cannot tell what it prints.
const SECRET_COLUMNS = ['Name', 'Type', 'Data', 'Age']
const SAFE_SECRET_COLUMNS = new Set(SECRET_COLUMNS)

export interface KubeMaskContext {
  /** The request targets core/v1 secrets, so every object it returns is a Secret or a projection of one. */
  readonly secretsRequest: boolean
  /** Whether policy allows revealing this Secret's values (decided per object). */
  readonly reveal: (namespace: string, name: string) => boolean
  readonly masker: Masker | null
}

/** Masks a decoded response body (object, list, Table, or watch event) and returns the value to hand out. */
export function maskKubeValue(value: unknown, ctx: KubeMaskContext): unknown {
  if (typeof value !== 'object' || value === null) return ctx.masker ? ctx.masker.json(value) : value
  const obj = value as Obj
  // Watch event: {type, object}.
  if (
    typeof obj.type === 'string' &&
    typeof obj.object === 'object' &&
    obj.object !== null &&
    Object.keys(obj).length <= 2
  )
    maskSecrets(obj.object, ctx)
  else maskSecrets(obj, ctx)
  return ctx.masker ? ctx.masker.json(obj) : obj
}

function maskSecrets(obj: Obj, ctx: KubeMaskContext): void {
  // Table (`Accept: application/json;as=Table;…`): each row's `object` is the full object
  // (includeObject=Object) or its metadata (the default), annotations and all.
  if (obj.kind === 'Table' && Array.isArray(obj.rows)) maskTable(obj, ctx)
  else if (Array.isArray(obj.items)) {
    // List items carry no kind; a SecretList's items are Secrets, a generic List's items say what they are.
    const inner = { ...ctx, secretsRequest: ctx.secretsRequest || obj.kind === 'SecretList' }
    for (const item of obj.items) if (typeof item === 'object' && item !== null) maskSecrets(item, inner)
  } else if (isSecret(obj, ctx) && !revealed(obj, ctx)) blankSecret(obj)
}

// In a secrets request every object that is not a list, Table or Status is a Secret or a projection of one
// (PartialObjectMetadata keeps the last-applied annotation), whatever its kind says.
function isSecret(obj: Obj, ctx: KubeMaskContext): boolean {
  return obj.kind === 'Secret' || (ctx.secretsRequest && obj.kind !== 'Status')
}

function revealed(obj: Obj, ctx: KubeMaskContext): boolean {
  const name = String(obj.metadata?.name ?? '')
  // Nameless objects (watch bookmarks) have nothing to reveal: no decision to ask for or audit.
  return name !== '' && ctx.reveal(String(obj.metadata?.namespace ?? ''), name)
}

function maskTable(table: Obj, ctx: KubeMaskContext): void {
  const defs = Array.isArray(table.columnDefinitions) ? table.columnDefinitions : []
  // Watch events after the first omit columnDefinitions; a core secrets Table then has the core layout.
  const columns: string[] =
    defs.length > 0 ? defs.map((d: any) => String(d?.name ?? '')) : ctx.secretsRequest ? SECRET_COLUMNS : []
  for (const row of table.rows) {
    if (typeof row !== 'object' || row === null) continue
    const object = typeof row.object === 'object' && row.object !== null ? (row.object as Obj) : undefined
    if (!(ctx.secretsRequest || object?.kind === 'Secret')) {
      if (object) maskSecrets(object, ctx)
      continue
    }
    // Without the object (includeObject=None) we cannot tell which Secret this is: keep it masked.
    if (object && revealed(object, ctx)) continue
    if (object) blankSecret(object)
    if (Array.isArray(row.cells))
      row.cells = row.cells.map((cell: unknown, i: number) =>
        SAFE_SECRET_COLUMNS.has(columns[i] ?? '') ? cell : '***',
      )
  }
}

function blankSecret(obj: Obj): void {
  if (obj.data && typeof obj.data === 'object')
    for (const k of Object.keys(obj.data)) obj.data[k] = MASKED_B64
  if (obj.stringData && typeof obj.stringData === 'object')
    for (const k of Object.keys(obj.stringData)) obj.stringData[k] = '***'
  // `kubectl apply` stores the whole manifest, values included, in this annotation.
  const annotations = obj.metadata?.annotations
  if (annotations && typeof annotations === 'object' && LAST_APPLIED in annotations)
    annotations[LAST_APPLIED] = '***'
}
