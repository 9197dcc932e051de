// The inbox page: plain HTML, CSS and JS served as static strings (no build step).
// Dynamic values are set with textContent only: commands and reasons come from
// applications and agents, so nothing from the store is ever parsed as HTML.

export const INBOX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warden approvals</title>
<link rel="stylesheet" href="/inbox.css">
<script src="/inbox.js" defer></script>
</head>
<body>
<header>
  <h1>Warden approvals</h1>
  <span id="status" class="status" role="status">signed out</span>
  <span id="me" class="me"></span>
  <button id="logout" type="button" hidden>Sign out</button>
</header>
<main>
  <form id="login" class="login" hidden>
    <h2>Sign in to review</h2>
    <label id="reviewer-row">Your name <input id="reviewer" name="reviewer" autocomplete="username"></label>
    <label><span id="token-label">Token</span> <input id="token" name="token" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
    <p id="login-error" class="error" role="alert"></p>
  </form>
  <section id="inbox" hidden>
    <p id="empty" class="empty">No requests are waiting for approval.</p>
    <ol id="requests" class="requests"></ol>
  </section>
</main>
</body>
</html>
`

export const INBOX_CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f5f8; }
[hidden] { display: none !important; }
body { margin: 0; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
.status { font-size: .85rem; padding: .1rem .5rem; border-radius: 1rem; background: #555; }
.status.live { background: #1f7a3a; }
.me { font-size: .9rem; }
main { max-width: 980px; margin: 1rem auto; padding: 0 1rem; }
.login { display: grid; gap: .7rem; max-width: 360px; background: #fff; padding: 1.2rem; border-radius: 8px; }
.login label { display: grid; gap: .25rem; }
.error { color: #b42318; min-height: 1.2em; margin: 0; }
.empty { color: #667; }
.requests { list-style: none; padding: 0; display: grid; gap: 1rem; }
.card { background: #fff; border-radius: 8px; padding: 1rem 1.2rem; box-shadow: 0 1px 3px #0002; }
.card .head { display: flex; gap: .8rem; align-items: baseline; flex-wrap: wrap; }
.card .resource { font-weight: 600; }
.card .action { font-family: ui-monospace, monospace; color: #445; }
.card .left { margin-left: auto; font-variant-numeric: tabular-nums; color: #8a5a00; }
.card .left.expired { color: #b42318; }
.card pre { background: #f4f5f8; padding: .6rem; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: .6rem 0; }
.card dt { color: #667; }
.card dd { margin: 0; }
.card table { border-collapse: collapse; font-size: .85rem; }
.card td, .card th { border: 1px solid #dde; padding: .2rem .4rem; text-align: left; }
.decide { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-top: .6rem; }
.decide input { flex: 1; min-width: 200px; padding: .35rem; }
button { padding: .35rem .9rem; border-radius: 6px; border: 1px solid #99a; background: #fff; cursor: pointer; }
button.approve { background: #1f7a3a; color: #fff; border-color: #1f7a3a; }
button.reject { background: #b42318; color: #fff; border-color: #b42318; }
button:disabled { opacity: .5; cursor: not-allowed; }
.note { color: #8a5a00; font-size: .9rem; }
`

export const INBOX_JS = `'use strict'
;(() => {
  const $ = (id) => document.getElementById(id)
  const KEY = 'warden.inbox.auth'
  const cards = new Map()
  let auth = null
  let me = null
  let mode = 'secret'
  let skew = 0
  let stream = null

  function el(tag, props, ...children) {
    const node = document.createElement(tag)
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') node.className = v
      else if (k.startsWith('data-')) node.setAttribute(k, v)
      else node[k] = v
    }
    for (const child of children) if (child != null) node.append(child)
    return node
  }

  function headers(extra) {
    const h = Object.assign({ authorization: 'Bearer ' + auth.token }, extra || {})
    if (mode === 'secret') h['x-warden-reviewer'] = auth.reviewer
    return h
  }

  function setStatus(text, live) {
    $('status').textContent = text
    $('status').classList.toggle('live', !!live)
  }

  function showLogin(message) {
    if (stream) stream.abort()
    stream = null
    auth = null
    me = null
    sessionStorage.removeItem(KEY)
    for (const c of cards.values()) c.el.remove()
    cards.clear()
    $('inbox').hidden = true
    $('logout').hidden = true
    $('me').textContent = ''
    $('login').hidden = false
    $('login-error').textContent = message || ''
    setStatus('signed out', false)
  }

  async function login(candidate) {
    auth = candidate
    let res
    try {
      res = await fetch('/api/whoami', { headers: headers() })
    } catch (e) {
      return showLogin('cannot reach the inbox server')
    }
    const body = await res.json().catch(() => ({}))
    if (!res.ok) return showLogin(body.error || 'sign-in failed (' + res.status + ')')
    me = body.reviewer
    sessionStorage.setItem(KEY, JSON.stringify(auth))
    $('login').hidden = true
    $('inbox').hidden = false
    $('logout').hidden = false
    $('me').textContent = 'signed in as ' + me
    connect()
  }

  async function connect() {
    if (stream) stream.abort()
    const controller = new AbortController()
    stream = controller
    setStatus('connecting', false)
    try {
      const res = await fetch('/api/events', { headers: headers(), signal: controller.signal })
      if (res.status === 401) return showLogin('signed out: ' + ((await res.json().catch(() => ({}))).error || ''))
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status)
      setStatus('live', true)
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\\n\\n')) >= 0) {
          onEvent(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return
    }
    if (stream !== controller) return
    setStatus('reconnecting', false)
    setTimeout(() => { if (stream === controller) connect() }, 1000)
  }

  // Server-Sent Events framing, read from a fetch() stream so the request can carry the auth header.
  function onEvent(block) {
    let type = 'message'
    const data = []
    for (const line of block.split('\\n')) {
      if (line.startsWith(':')) continue
      if (line.startsWith('event:')) type = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }
    if (type === 'pending') render(JSON.parse(data.join('\\n')))
  }

  function render(snapshot) {
    skew = Date.parse(snapshot.now) - Date.now()
    const seen = new Set()
    for (const request of snapshot.requests) {
      seen.add(request.id)
      if (!cards.has(request.id)) addCard(request)
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.el.remove()
        cards.delete(id)
      }
    }
    $('empty').hidden = cards.size > 0
    tick()
  }

  function previewNode(preview) {
    if (!preview) return null
    const parts = [el('div', {}, String(preview.summary || ''))]
    if (Array.isArray(preview.rowsAffected)) {
      parts.push(el('div', {}, 'rows affected per statement: ' + preview.rowsAffected.join(', ')))
    }
    if (Array.isArray(preview.sample) && preview.sample.length > 0) {
      const columns = Object.keys(preview.sample[0])
      const head = el('tr', {}, ...columns.map((c) => el('th', {}, c)))
      const rows = preview.sample.map((row) =>
        el('tr', {}, ...columns.map((c) => el('td', {}, row[c] === null ? 'NULL' : typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c])))),
      )
      parts.push(el('table', { class: 'sample' }, el('thead', {}, head), el('tbody', {}, ...rows)))
    }
    return el('div', { class: 'preview' }, ...parts)
  }

  function addCard(r) {
    const own = r.principal.id === me
    const reason = el('input', { type: 'text', placeholder: 'Reason (required to reject)', 'data-role': 'reason', maxLength: 1000 })
    const approve = el('button', { type: 'button', class: 'approve', 'data-action': 'approve', disabled: own }, 'Approve')
    const reject = el('button', { type: 'button', class: 'reject', 'data-action': 'reject' }, 'Reject')
    const error = el('p', { class: 'error', role: 'alert' })
    const left = el('span', { class: 'left' })
    const who = r.principal.id + (r.principal.type ? ' (' + r.principal.type + ')' : '') +
      (r.principal.groups && r.principal.groups.length ? ' · groups ' + r.principal.groups.join(', ') : '')
    const details = el('dl', {},
      el('dt', {}, 'requested by'), el('dd', { 'data-role': 'principal' }, who),
      el('dt', {}, 'rule'), el('dd', { 'data-role': 'rule' }, r.rule + (r.reason ? ': ' + r.reason : '')),
      el('dt', {}, 'approvers'), el('dd', {}, r.approvers && r.approvers.length ? r.approvers.join(', ') : 'any reviewer'),
      el('dt', {}, 'requested'), el('dd', {}, new Date(r.requestedAt).toLocaleString()),
      el('dt', {}, 'session'), el('dd', {}, r.session),
    )
    const preview = previewNode(r.preview)
    const node = el('li', { class: 'card', 'data-request-id': r.id },
      el('div', { class: 'head' },
        el('span', { class: 'resource' }, r.resource.kind + ':' + r.resource.name),
        el('span', { class: 'action' }, r.action),
        left),
      el('pre', { class: 'command', 'data-role': 'command' }, r.command),
      details,
      preview ? el('details', { open: true }, el('summary', {}, 'preview'), preview) : null,
      el('details', {}, el('summary', {}, 'facts'), el('pre', { 'data-role': 'facts' }, JSON.stringify(r.facts, null, 2))),
      own ? el('p', { class: 'note' }, 'This is your own request: someone else must approve it (you may reject it).') : null,
      el('div', { class: 'decide' }, reason, approve, reject),
      error,
    )
    const card = { el: node, request: r, left, approve, reject, own, busy: false }
    approve.addEventListener('click', () => decide(card, 'approved', reason.value, error))
    reject.addEventListener('click', () => decide(card, 'rejected', reason.value, error))
    cards.set(r.id, card)
    $('requests').append(node)
  }

  async function decide(card, status, reason, error) {
    error.textContent = ''
    if (status === 'rejected' && !reason.trim()) {
      error.textContent = 'Give a reason to reject.'
      return
    }
    card.busy = true
    card.approve.disabled = true
    card.reject.disabled = true
    try {
      const res = await fetch('/api/requests/' + encodeURIComponent(card.request.id) + '/decision', {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ status, reason, fingerprint: card.request.fingerprint }),
      })
      const body = await res.json().catch(() => ({}))
      if (res.status === 401) return showLogin('signed out: ' + (body.error || ''))
      if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status)
      card.el.remove()
      cards.delete(card.request.id)
      $('empty').hidden = cards.size > 0
    } catch (e) {
      error.textContent = e.message
      card.busy = false
      tick()
    }
  }

  function tick() {
    const now = Date.now() + skew
    for (const card of cards.values()) {
      const ms = Date.parse(card.request.expiresAt) - now
      const expired = ms <= 0
      const s = Math.max(0, Math.floor(ms / 1000))
      card.left.textContent = expired ? 'expired' : Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0') + ' left'
      card.left.classList.toggle('expired', expired)
      if (!card.busy) {
        card.approve.disabled = expired || card.own
        card.reject.disabled = expired
      }
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    $('login').addEventListener('submit', (event) => {
      event.preventDefault()
      login({ token: $('token').value, reviewer: $('reviewer').value.trim() })
    })
    $('logout').addEventListener('click', () => showLogin(''))
    setInterval(tick, 1000)
    try {
      mode = (await (await fetch('/api/config')).json()).mode
    } catch (e) {}
    $('reviewer-row').hidden = mode !== 'secret'
    $('reviewer').required = mode === 'secret'
    $('token-label').textContent =
      mode === 'secret' ? 'Shared secret' : mode === 'tokens' ? 'Your reviewer token' : 'Access token (JWT)'
    const saved = sessionStorage.getItem(KEY)
    if (saved) login(JSON.parse(saved))
    else showLogin('')
  })
})()
`
