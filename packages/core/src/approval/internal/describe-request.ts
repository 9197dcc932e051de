// Human-readable text of an approval request, for a terminal prompt and for chat webhooks.
import type { ApprovalRequest } from '../approver.js'

// Command text comes from the requester (an agent can put anything in a SQL string): terminal
// control characters are shown escaped, so a command cannot repaint the prompt it is judged by.
function isControl(c: number): boolean {
  // C0 (but tab and newline), DEL and C1, bidi marks, overrides and isolates, zero-width and
  // invisible characters, and spaces other than U+0020 (a parser and the server may split words
  // differently at a no-break space), as the inbox marks them.
  return (
    (c < 0x20 && c !== 0x09 && c !== 0x0a) ||
    (c >= 0x7f && c <= 0xa0) ||
    c === 0xad ||
    c === 0x061c ||
    c === 0x1680 ||
    c === 0x180e ||
    (c >= 0x2000 && c <= 0x200f) ||
    (c >= 0x2028 && c <= 0x202f) ||
    (c >= 0x205f && c <= 0x206f) ||
    c === 0x3000 ||
    (c >= 0xfe00 && c <= 0xfe0f) ||
    c === 0xfeff
  )
}

export function printable(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    out += isControl(c) ? `\\u${c.toString(16).padStart(4, '0')}` : text[i]
  }
  return out
}

/** A bound value as an approver reads it: `$1 = 'text'` style, NULL spelled out, controls escaped. */
function shownValue(v: string | null, i: number): string {
  return `$${i + 1} = ${v === null ? 'NULL' : `'${printable(v)}'`}`
}

export function describeLines(r: ApprovalRequest): string[] {
  const lines = [
    `${r.principal.id} (${r.principal.type}) wants ${r.action} on ${r.resource.kind}:${r.resource.name}`,
    `command: ${printable(r.command)}`,
    ...(r.parameters?.length ? [`values: ${r.parameters.map(shownValue).join(', ')}`] : []),
    `rule: ${r.rule}${r.reason ? ` (${printable(r.reason)})` : ''}`,
  ]
  if (r.preview?.summary) lines.push(`preview: ${printable(r.preview.summary)}`)
  lines.push(`expires: ${r.expiresAt.toISOString()}  id: ${r.id}`)
  return lines
}

/** Slack mrkdwn escaping (`&`, `<`, `>`), and code spans that cannot be closed from inside. */
function slack(text: string): string {
  return printable(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export function slackText(r: ApprovalRequest, reviewUrl?: string): string {
  const command = slack(r.command).replace(/```/g, "``'")
  const lines = [
    `*Approval needed*: \`${slack(r.principal.id)}\` (${slack(r.principal.type)}) wants \`${slack(r.action)}\` on \`${slack(`${r.resource.kind}:${r.resource.name}`)}\``,
    `\`\`\`${command}\`\`\``,
    ...(r.parameters?.length ? [`Values: ${slack(r.parameters.map(shownValue).join(', '))}`] : []),
    `Rule: *${slack(r.rule)}*${r.reason ? `: ${slack(r.reason)}` : ''}`,
  ]
  if (r.preview?.summary) lines.push(`Preview: ${slack(r.preview.summary)}`)
  lines.push(`Expires ${r.expiresAt.toISOString()} · id \`${slack(r.id)}\``)
  if (reviewUrl !== undefined) lines.push(`<${reviewUrl}|Review>`)
  return lines.join('\n')
}
