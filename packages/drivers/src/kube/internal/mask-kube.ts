// Masks Kubernetes response objects: Secret payloads unless policy allows revealing them, then the policy's
// own masks (JSON paths and detectors) through the command's masker.
import type { Masker } from '@warden/core'

type Obj = Record<string, any>

const MASKED_B64 = Buffer.from('***').toString('base64')
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

export interface KubeMaskContext {
  /** The request targets core/v1 secrets, so list items without `kind` are Secrets. */
  readonly secretsRequest: boolean
  /** Whether policy allows revealing this Secret's values (decided per object). */
  readonly reveal: (namespace: string, name: string) => boolean
  readonly masker: Masker | null
}

/** Masks a decoded response body (object, list, or watch event) and returns the value to hand out. */
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
    maskSecrets(obj.object, ctx, false)
  else maskSecrets(obj, ctx, false)
  return ctx.masker ? ctx.masker.json(obj) : obj
}

function maskSecrets(obj: Obj, ctx: KubeMaskContext, listItem: boolean): void {
  const isSecret = obj.kind === 'Secret' || (listItem && obj.kind === undefined && ctx.secretsRequest)
  if (isSecret) {
    const ns = String(obj.metadata?.namespace ?? '')
    const name = String(obj.metadata?.name ?? '')
    if (!ctx.reveal(ns, name)) blankSecret(obj)
    return
  }
  if (Array.isArray(obj.items)) {
    const secretList = obj.kind === 'SecretList' || (obj.kind === undefined && ctx.secretsRequest)
    for (const item of obj.items) {
      if (typeof item !== 'object' || item === null) continue
      // List items carry no kind; a SecretList's items are Secrets, a generic List's items say what they are.
      maskSecrets(item, { ...ctx, secretsRequest: secretList || ctx.secretsRequest }, true)
    }
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
