// The inbox page: plain HTML, CSS and JS served as static strings (no build step), kept in
// ./page/. Dynamic values are set as text only: commands and reasons come from applications and
// agents, so nothing from the store is ever parsed as HTML.
import { APP_JS } from './page/app.js'
import { INBOX_CSS } from './page/css.js'
import { INBOX_HTML } from './page/html.js'
import { TEXT_JS } from './page/text.js'

export { INBOX_CSS, INBOX_HTML }
export const INBOX_JS = `'use strict'\n;(() => {\n${TEXT_JS}\n${APP_JS}\n})()\n`
