// The demo's policy, inline so the published CLI needs no files beside its own code.
export const DEMO_POLICY = `
defaults:
  effect: deny
rules:
  - name: unparsed-sql
    when: '!sql.parsed'
    effect: deny
    reason: the statement could not be parsed
  - name: destructive-sql
    resources: ["postgres:*"]
    when: 'sql.types.exists(t, t in ["DROP", "TRUNCATE"]) || sql.unbounded'
    effect: deny
    reason: destructive statements and UPDATE/DELETE without WHERE are blocked
  - name: readers-select
    resources: ["postgres:shop"]
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
  - name: agent-reads
    resources: ["postgres:shop"]
    when: 'principal.type == "agent" && !sql.write'
    effect: allow
  - name: agent-writes
    resources: ["postgres:shop"]
    when: 'principal.type == "agent" && sql.write && sql.writes.all(t, t == "orders")'
    effect: approve
    reason: an agent changing orders needs a human
    approval: { approvers: [support-leads], timeout: 2m }
masks:
  - name: customer-pii
    resources: ["postgres:*"]
    when: '!("pii-readers" in principal.groups)'
    columns: ["customers.email", "customers.ssn", "customers.phone"]
    strategy: partial
    tags: [pii]
`
