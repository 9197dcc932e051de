// The page's application JS (served as /inbox.js after the text helpers): sign-in, the event
// stream, request cards, decisions and the history. Every value goes through appendText (text
// nodes and markers, never HTML); what a reviewer may decide comes from the server ("decide").
export const APP_JS = String.raw`
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
  // An element holding a value from the store, hidden characters marked.
  function val(tag, props, value, inline) {
    const node = el(tag, props)
    node.classList.add('value')
    appendText(node, value, inline !== false)
    return node
  }
  function when(tag, props, iso, prefix) {
    const node = el(tag, props)
    node.dataset.at = iso
    node.dataset.prefix = prefix || ''
    node.title = absolute(iso)
    node.textContent = (prefix || '') + relative(Date.parse(iso) - (Date.now() + skew))
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

  function notice(text, rejected) {
    $('notice').textContent = text
    $('notice').classList.toggle('rejected', !!rejected)
    $('notice').hidden = !text
  }

  function showLogin(message) {
    if (stream) stream.abort()
    stream = null
    auth = null
    me = null
    sessionStorage.removeItem(KEY)
    for (const c of cards.values()) c.el.remove()
    cards.clear()
    $('history').replaceChildren()
    notice('')
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
    $('me').replaceChildren('signed in as ')
    appendText($('me'), me, true)
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
        while ((end = buffer.indexOf('\n\n')) >= 0) {
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
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      if (line.startsWith('event:')) type = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }
    if (type === 'pending') render(JSON.parse(data.join('\n')))
  }

  function render(snapshot) {
    skew = Date.parse(snapshot.now) - Date.now()
    const seen = new Set()
    for (const request of snapshot.requests) {
      seen.add(request.id)
      const why = (snapshot.decide && snapshot.decide[request.id]) || {}
      const card = cards.get(request.id)
      if (!card) addCard(request, why)
      else update(card, request, why)
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.el.remove()
        cards.delete(id)
      }
    }
    $('empty').hidden = cards.size > 0
    const hidden = (snapshot.total || 0) - snapshot.requests.length
    $('more').hidden = hidden <= 0
    $('more').textContent = hidden > 0 ? hidden + ' more pending requests are not listed (the list is full); decide these first.' : ''
    renderHistory(snapshot.history || [])
    tick()
  }

  const STATUS_TEXT = { approved: 'approved', rejected: 'rejected', approval: 'approval recorded', expired: 'expired', withdrawn: 'withdrawn' }
  function renderHistory(entries) {
    $('history').replaceChildren(...entries.map((h) => {
      const line = el('li', { 'data-history-id': h.id },
        el('span', { class: 'st ' + h.status }, STATUS_TEXT[h.status] || h.status), ' ')
      if (h.by) line.append('by ', val('span', { 'data-role': 'by' }, h.by), ' ')
      line.append(when('span', { class: 'at' }, h.at))
      if (h.resource) line.append(' \u00B7 ', val('span', {}, h.resource))
      if (h.principal) line.append(' \u00B7 requested by ', val('span', {}, h.principal))
      if (h.reason) line.append(' \u00B7 reason: ', val('span', { 'data-role': 'reason' }, h.reason))
      if (h.command) line.append(val('span', { class: 'cmd' }, h.command.length >= 300 ? h.command + '\u2026' : h.command))
      return line
    }))
    $('history-empty').hidden = entries.length > 0
  }

  function commandBlock(card) {
    const r = card.request
    const pre = el('pre', { class: 'code command', 'data-role': 'command' })
    const cut = el('div', { class: 'cut' })
    const warn = el('p', { class: 'warn', 'data-role': 'hidden-chars', hidden: true })
    const toggle = el('button', { type: 'button', class: 'link', 'data-action': 'show-all' }, 'Show all')
    let full = null
    let expanded = false
    function collapsedView() {
      pre.replaceChildren()
      const shown = appendCollapsed(pre, r.command, r.commandLength, r.commandLines)
      const rest = []
      if (shown.restLines > 0) rest.push('\u2026 ' + shown.restLines + ' more ' + (shown.restLines === 1 ? 'line' : 'lines'))
      if (shown.restChars > 0) rest.push(shown.restChars + ' more characters')
      cut.replaceChildren(el('span', { 'data-role': 'rest' }, rest.join(', ')))
      const collapsed = rest.length > 0 || pre.querySelector('.gap') !== null
      if (collapsed) cut.append(toggle)
      toggle.textContent = 'Show all (' + r.commandLength + ' characters)'
      cut.hidden = !collapsed
      return shown.marked
    }
    async function fullView() {
      if (full === null) {
        if (r.commandLength > r.command.length) {
          const res = await fetch('/api/requests/' + encodeURIComponent(r.id), { headers: headers() })
          const body = await res.json().catch(() => ({}))
          if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status)
          full = body.request.command
        } else full = r.command
      }
      pre.replaceChildren()
      appendText(pre, full, false)
      toggle.textContent = 'Collapse'
      cut.replaceChildren(toggle)
    }
    toggle.addEventListener('click', () => {
      expanded = !expanded
      if (expanded) fullView().catch((e) => { expanded = false; card.error.textContent = 'Cannot load the full command: ' + e.message })
      else collapsedView()
    })
    const marked = collapsedView()
    if (marked > 0) {
      warn.hidden = false
      warn.textContent = 'The command contains ' + marked + ' invisible or direction-changing ' + (marked === 1 ? 'character' : 'characters') + ', shown as \u27EAU+\u2026\u27EB markers.'
    }
    return [warn, pre, cut]
  }

  function cellText(v) {
    return v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v)
  }

  function previewNode(preview, approvalsNeeded) {
    if (!preview) return null
    const parts = [val('div', { 'data-role': 'summary' }, preview.summary || '')]
    const total = Array.isArray(preview.rowsAffected) ? preview.rowsAffected.reduce((a, b) => a + b, 0) : null
    if (Array.isArray(preview.rowsAffected)) parts.push(el('div', {}, 'rows affected per statement: ' + preview.rowsAffected.join(', ')))
    if (preview.sampleOmitted) parts.push(el('p', { class: 'note' }, 'The sample rows are too large to list here.'))
    const sample = Array.isArray(preview.sample) ? preview.sample : []
    if (sample.length > 0) {
      const before = Array.isArray(preview.before) && preview.before.length === sample.length ? preview.before : null
      const size = preview.sampleSize || sample.length
      const count = (total !== null && total >= size ? sample.length + ' of ' + total : sample.length + (size > sample.length ? ' of ' + size + ' sampled' : '')) + (total === 1 ? ' row' : ' rows')
      const kind = before ? 'before \u2192 after, changed cells marked' : preview.sampleOf === 'removed' ? 'as they were before removal' : 'values after the change'
      parts.push(el('p', { class: 'sample-title', 'data-role': 'sample-count' }, 'Sample: ' + count + ' (' + kind + ')'))
      const columns = []
      for (const row of sample.concat(before || [])) if (row) for (const c of Object.keys(row)) if (!columns.includes(c)) columns.push(c)
      const head = el('tr', {}, ...columns.map((c) => val('th', {}, c)))
      const rows = sample.map((row, i) => {
        const old = before ? before[i] : undefined
        const tr = el('tr', { class: before && old === null ? 'new' : '' })
        for (const c of columns) {
          const after = row ? row[c] : undefined
          if (old && c in old && cellText(old[c]) !== cellText(after)) {
            const td = el('td', { class: 'changed', 'data-changed': 'true' })
            td.append(val('del', {}, cellText(old[c])), ' \u2192 ', val('ins', {}, cellText(after)))
            tr.append(td)
          } else tr.append(val('td', {}, cellText(after)))
        }
        return tr
      })
      parts.push(el('div', { class: 'scroll' }, el('table', { class: 'sample' }, el('thead', {}, head), el('tbody', {}, ...rows))))
    }
    return el('div', { class: 'preview' }, ...parts)
  }

  function addCard(r, why) {
    const own = r.principal.id === me
    const reason = el('input', { type: 'text', placeholder: 'Reason (required to reject)', 'data-role': 'reason', maxLength: 1000 })
    const approve = el('button', { type: 'button', class: 'approve', 'data-action': 'approve' }, 'Approve')
    const reject = el('button', { type: 'button', class: 'reject', 'data-action': 'reject' }, 'Reject')
    const error = el('p', { class: 'error', role: 'alert' })
    const left = el('span', { class: 'left' })
    const whyNote = el('p', { class: 'why', 'data-role': 'why', hidden: true })
    const progress = el('dd', { class: 'progress', 'data-role': 'progress' })
    const who = el('dd', { 'data-role': 'principal' })
    appendText(who, r.principal.id, true)
    who.append((r.principal.type ? ' (' + r.principal.type + ')' : '') + (r.principal.groups && r.principal.groups.length ? ' \u00B7 groups ' : ''))
    if (r.principal.groups && r.principal.groups.length) appendText(who, r.principal.groups.join(', '), true)
    const rule = el('dd', { 'data-role': 'rule' })
    appendText(rule, r.rule + (r.reason ? ': ' + r.reason : ''), true)
    const card = { el: null, request: r, why, left, approve, reject, whyNote, progress, error, own, busy: false }
    const facts = r.facts ? el('pre', { class: 'code', 'data-role': 'facts' }) : el('p', { class: 'note', 'data-role': 'facts' }, 'The facts (' + r.factsBytes + ' bytes) are too large to list; use Show all on the command to read the full request.')
    if (r.facts) appendText(facts, JSON.stringify(r.facts, null, 2), false)
    const details = el('dl', {},
      el('dt', {}, 'requested by'), who,
      el('dt', {}, 'rule'), rule,
      el('dt', {}, 'approvers'), val('dd', { 'data-role': 'approvers' }, r.approversText || (r.approvers.length ? r.approvers.join(', ') : 'any reviewer')),
      el('dt', {}, 'approvals'), progress,
      el('dt', {}, 'requested'), el('dd', {}, when('span', {}, r.requestedAt)),
      el('dt', {}, 'session'), val('dd', {}, r.session),
    )
    const preview = previewNode(r.preview)
    card.el = el('li', { class: 'card', 'data-request-id': r.id },
      el('div', { class: 'head' },
        val('span', { class: 'resource' }, r.resource.kind + ':' + r.resource.name),
        val('span', { class: 'action' }, r.action),
        left),
      ...commandBlock(card),
      details,
      preview ? el('details', { open: true }, el('summary', {}, 'preview'), preview) : null,
      el('details', {}, el('summary', {}, 'facts'), facts),
      own ? el('p', { class: 'note' }, 'This is your own request: someone else must approve it (you may reject it).') : null,
      el('div', { class: 'decide' }, reason, approve, reject),
      whyNote,
      error,
    )
    approve.addEventListener('click', () => decide(card, 'approved', reason.value))
    reject.addEventListener('click', () => decide(card, 'rejected', reason.value))
    cards.set(r.id, card)
    update(card, r, why)
    $('requests').append(card.el)
  }

  // What changes while a request waits: approvals so far and what this reviewer may do.
  function update(card, r, why) {
    card.request = Object.assign(card.request, { approvals: r.approvals, progress: r.progress })
    card.why = why
    card.progress.textContent = r.progress || 'none yet'
    const texts = []
    if (why.approve) texts.push(why.approve === why.reject ? why.approve : 'Approve: ' + why.approve)
    if (why.reject && why.reject !== why.approve) texts.push('Reject: ' + why.reject)
    card.whyNote.textContent = texts.join(' \u00B7 ')
    card.whyNote.hidden = texts.length === 0
    card.approve.title = why.approve || ''
    card.reject.title = why.reject || ''
  }

  async function decide(card, status, reason) {
    card.error.textContent = ''
    if (status === 'rejected' && !reason.trim()) {
      card.error.textContent = 'Give a reason to reject.'
      return
    }
    card.busy = true
    card.approve.disabled = true
    card.reject.disabled = true
    const r = card.request
    try {
      const res = await fetch('/api/requests/' + encodeURIComponent(r.id) + '/decision', {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ status, reason, fingerprint: r.fingerprint, requestDigest: r.requestDigest }),
      })
      const body = await res.json().catch(() => ({}))
      if (res.status === 401) return showLogin('signed out: ' + (body.error || ''))
      if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status)
      const what = r.resource.kind + ':' + r.resource.name + ' for ' + r.principal.id
      if (body.pending) {
        notice('Your approval of ' + what + ' is recorded: ' + body.progress + '. It runs once enough approvers agree.')
        update(card, Object.assign({}, r, { progress: body.progress }), { approve: 'you already approved this request', reject: 'you already approved this request' })
        card.busy = false
      } else {
        notice((status === 'approved' ? 'Approved: ' : 'Rejected: ') + what + (reason ? ' (' + reason + ')' : ''), status === 'rejected')
        card.el.remove()
        cards.delete(r.id)
        $('empty').hidden = cards.size > 0
      }
    } catch (e) {
      card.error.textContent = e.message
      card.busy = false
    }
    tick()
  }

  function tick() {
    const now = Date.now() + skew
    for (const node of document.querySelectorAll('[data-at]')) {
      node.textContent = node.dataset.prefix + relative(Date.parse(node.dataset.at) - now)
    }
    for (const card of cards.values()) {
      const ms = Date.parse(card.request.expiresAt) - now
      const expired = ms <= 0
      card.left.textContent = expired ? 'expired' : 'expires ' + relative(ms)
      card.left.title = absolute(card.request.expiresAt)
      card.left.classList.toggle('expired', expired)
      if (!card.busy) {
        card.approve.disabled = expired || !!card.why.approve
        card.reject.disabled = expired || !!card.why.reject
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
`
