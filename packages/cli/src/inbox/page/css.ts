// The inbox page's stylesheet. Laid out to fit a 390 px phone: long tokens wrap, tables scroll
// inside their own box, and nothing makes the page wider than the screen.
export const INBOX_CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f5f8; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; overflow-wrap: anywhere; }
header { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; padding: .6rem 1rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; flex: 1 1 auto; }
.status { font-size: .85rem; padding: .1rem .5rem; border-radius: 1rem; background: #555; }
.status.live { background: #1f7a3a; }
.me { font-size: .9rem; min-width: 0; }
main { max-width: 980px; margin: 1rem auto; padding: 0 .75rem; }
.login { display: grid; gap: .7rem; max-width: 360px; background: #fff; padding: 1.2rem; border-radius: 8px; }
.login label { display: grid; gap: .25rem; }
.login input { min-width: 0; }
.error { color: #b42318; min-height: 1.2em; margin: 0; }
.empty { color: #667; }
.notice { background: #e6f4ea; border: 1px solid #1f7a3a; color: #124d25; padding: .6rem .8rem; border-radius: 6px; margin: .5rem 0; }
.notice.rejected { background: #fdecea; border-color: #b42318; color: #7a1a12; }
.requests { list-style: none; padding: 0; display: grid; gap: 1rem; }
.card { background: #fff; border-radius: 8px; padding: .9rem 1rem; box-shadow: 0 1px 3px #0002; min-width: 0; }
.card .head { display: flex; gap: .3rem .8rem; align-items: baseline; flex-wrap: wrap; }
.card .resource { font-weight: 600; min-width: 0; }
.card .action { font-family: ui-monospace, monospace; color: #445; }
.card .left { margin-left: auto; font-variant-numeric: tabular-nums; color: #8a5a00; }
.card .left.expired { color: #b42318; }
.card .warn { background: #fff4e5; border-left: 4px solid #d97706; padding: .3rem .6rem; margin: .5rem 0; font-size: .9rem; }
pre.code { background: #f4f5f8; padding: .6rem; border-radius: 6px; margin: .5rem 0 .2rem; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; max-width: 100%; }
/* Values show in logical (stored) order: right-to-left letters cannot reorder what is around them. */
pre.code, .value { unicode-bidi: isolate; }
pre.command { unicode-bidi: bidi-override; direction: ltr; }
.cc { display: inline-block; font: .75rem ui-monospace, monospace; color: #fff; background: #b42318; border-radius: 3px; padding: 0 .2rem; margin: 0 1px; unicode-bidi: isolate; direction: ltr; }
.gap { display: inline-block; font: .8rem system-ui, sans-serif; color: #445; background: #e3e6ee; border-radius: 3px; padding: 0 .3rem; }
.cut { display: flex; flex-wrap: wrap; gap: .3rem .8rem; align-items: center; font-size: .85rem; color: #445; }
button.link { border: none; background: none; color: #1a56db; padding: 0; text-decoration: underline; }
.card dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2rem .8rem; margin: .6rem 0; }
.card dt { color: #667; }
.card dd { margin: 0; min-width: 0; }
.progress { font-weight: 600; color: #8a5a00; }
.scroll { overflow-x: auto; max-width: 100%; }
.card table { border-collapse: collapse; font-size: .85rem; }
.card td, .card th { border: 1px solid #dde; padding: .2rem .4rem; text-align: left; vertical-align: top; overflow-wrap: normal; max-width: 24rem; }
.card td.changed { background: #fff4e5; }
.card td.changed del { color: #b42318; }
.card td.changed ins { color: #1f7a3a; text-decoration: none; font-weight: 600; }
.card tr.new td { background: #e6f4ea; }
.card .sample-title { font-size: .9rem; margin: .6rem 0 .3rem; }
.decide { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-top: .6rem; }
.decide input { flex: 1 1 12rem; min-width: 0; padding: .35rem; }
.why { color: #8a5a00; font-size: .9rem; margin: .4rem 0 0; }
button { padding: .35rem .9rem; border-radius: 6px; border: 1px solid #99a; background: #fff; cursor: pointer; }
button.approve { background: #1f7a3a; color: #fff; border-color: #1f7a3a; }
button.reject { background: #b42318; color: #fff; border-color: #b42318; }
button:disabled { opacity: .5; cursor: not-allowed; }
.note { color: #8a5a00; font-size: .9rem; }
.history { margin-top: 2rem; }
.history h2 { font-size: 1rem; }
.history-list { list-style: none; padding: 0; display: grid; gap: .4rem; font-size: .9rem; }
.history-list li { background: #fff; border-radius: 6px; padding: .5rem .7rem; min-width: 0; }
.history-list .st { font-weight: 600; }
.history-list .st.approved, .history-list .st.approval { color: #1f7a3a; }
.history-list .st.rejected { color: #b42318; }
.history-list .cmd { font-family: ui-monospace, monospace; font-size: .8rem; color: #445; display: block; unicode-bidi: bidi-override; direction: ltr; }
`
