// The inbox page's HTML: static, no inline script or style (the CSP allows neither).
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
    <div id="notice" class="notice" role="status" hidden></div>
    <p id="empty" class="empty">No requests are waiting for approval.</p>
    <p id="more" class="note" hidden></p>
    <ol id="requests" class="requests"></ol>
    <section class="history" aria-labelledby="history-title">
      <h2 id="history-title">Recent decisions</h2>
      <p id="history-empty" class="empty">No decisions yet.</p>
      <ol id="history" class="history-list"></ol>
    </section>
  </section>
</main>
</body>
</html>
`
