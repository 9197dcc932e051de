// Human-readable text of an approval request, for a terminal prompt and for chat webhooks.
import type { ApprovalRequest } from '../approver.js'

// Command text comes from the requester (an agent can put anything in a SQL string): terminal
// control characters are shown escaped, so a command cannot repaint the prompt it is judged by.
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export function describeLines(r: ApprovalRequest): string[] {
  const lines = [
    `${r.principal.id} (${r.principal.type}) wants ${r.action} on ${r.resource.kind}:${r.resource.name}`,
    `command: ${printable(r.command)}`,
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
    `Rule: *${slack(r.rule)}*${r.reason ? `: ${slack(r.reason)}` : ''}`,
  ]
  if (r.preview?.summary) lines.push(`Preview: ${slack(r.preview.summary)}`)
  lines.push(`Expires ${r.expiresAt.toISOString()} · id \`${slack(r.id)}\``)
  if (reviewUrl !== undefined) lines.push(`<${reviewUrl}|Review>`)
  return lines.join('\n')
}
