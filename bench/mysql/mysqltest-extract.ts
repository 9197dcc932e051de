// The SQL statements of a mysqltest script (MariaDB's mysql-test/*.test), as the client would send
// them: mysqltest commands, comments, blocks, heredocs and statements that use mysqltest
// variables ($x) are left out; `--error` marks the next statement as expected to fail.

export interface ExtractedStatement {
  readonly text: string
  readonly expectError: boolean
}

/** mysqltest commands (the first word of a "statement"); anything else is SQL. */
const COMMANDS = new Set(
  `append_file assert cat_file change_user character_set chmod connect connection copy_file copy_files_wildcard
  dec delimiter die diff_files dirty_close disable_abort_on_error disable_connect_log disable_info
  disable_metadata disable_parsing disable_ps_protocol disable_query_log disable_reconnect
  disable_result_log disable_service_connection disable_session_track_info disable_view_protocol
  disable_warnings disable_cursor_protocol disable_prepare_warnings disable_ps2_protocol disconnect echo
  enable_abort_on_error enable_connect_log enable_info enable_metadata enable_parsing enable_ps_protocol
  enable_query_log enable_reconnect enable_result_log enable_service_connection enable_session_track_info
  enable_view_protocol enable_warnings enable_cursor_protocol enable_prepare_warnings enable_ps2_protocol
  end end_timer error eval exec execw exit file_exists horizontal_results inc let list_files
  list_files_append_file list_files_write_file lowercase_result mkdir move_file output perl ping
  query_attributes query_get_value query_horizontal query_vertical real_sleep reap remove_file
  remove_files_wildcard replace_column replace_regex replace_result require result_format rmdir
  save_master_pos send send_eval send_quit send_shutdown shutdown_server single_query skip sleep
  sorted_result source start_timer sync_slave_with_master sync_with_master system vertical_results
  wait_for_slave_to_stop write_file write_line if while partially_sorted_result`.split(/\s+/),
)
const HEREDOC = new Set(['perl', 'write_file', 'append_file'])

export function extractStatements(script: string): ExtractedStatement[] {
  const out: ExtractedStatement[] = []
  const lines = script.split('\n')
  let delimiter = ';'
  let buffer = ''
  let expectError = false
  let heredoc: string | undefined
  const flush = (text: string) => {
    const t = text.trim()
    if (t === '') return
    const first = (/^[A-Za-z_]+/.exec(t)?.[0] ?? '').toLowerCase()
    if (first === 'delimiter') {
      delimiter = t.slice(9).trim() || ';'
      return
    }
    if (COMMANDS.has(first)) {
      if (first === 'error') expectError = true
      else if (HEREDOC.has(first)) heredoc = /\bEND_OF_[A-Z_]+|\bEOF\b/.exec(t)?.[0] ?? 'EOF'
      if (first === 'query_vertical' || first === 'query_horizontal' || first === 'send') {
        const rest = t.slice(first.length).trim()
        if (rest !== '') push(rest)
        else expectError = false
      } else if (first !== 'error') expectError = false
      return
    }
    push(t)
  }
  const push = (t: string) => {
    if (!/\$[A-Za-z_{]/.test(t)) out.push({ text: t, expectError })
    expectError = false
  }
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '')
    if (heredoc !== undefined) {
      if (line.trim() === heredoc) heredoc = undefined
      continue
    }
    const trimmed = line.trim()
    if (buffer === '') {
      if (trimmed === '' || trimmed.startsWith('#') || trimmed === '}' || trimmed === '{') continue
      if (trimmed.startsWith('--')) {
        const command = trimmed.slice(2).trim()
        const first = (/^[A-Za-z_]+/.exec(command)?.[0] ?? '').toLowerCase()
        if (first === 'error') expectError = true
        else if (first === 'delimiter') delimiter = command.slice(9).trim() || ';'
        else if (HEREDOC.has(first)) heredoc = /\bEND_OF_[A-Z_]+|\bEOF\b/.exec(command)?.[0] ?? 'EOF'
        else if (first === 'query_vertical' || first === 'send' || first === 'query_horizontal') {
          const rest = command.slice(first.length).trim()
          if (rest !== '') push(rest)
        }
        continue
      }
      // `if (…)` / `while (…)` open a block: no delimiter, the condition ends at `{` or the line.
      if (/^(if|while)\s*\(/i.test(trimmed)) continue
      if (trimmed.startsWith('}')) continue
    }
    buffer += `${line}\n`
    for (;;) {
      const at = delimiterAt(buffer, delimiter)
      if (at < 0) break
      const text = buffer.slice(0, at)
      buffer = buffer.slice(at + delimiter.length)
      flush(text)
      if (buffer.trim() === '') {
        buffer = ''
        break
      }
    }
  }
  return out
}

/** Where the delimiter first occurs outside quotes (mysqltest reads strings across lines). */
function delimiterAt(text: string, delimiter: string): number {
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (quote !== '') {
      if (c === '\\' && quote !== '`') i++
      else if (c === quote) quote = ''
      continue
    }
    if (c === "'" || c === '"' || c === '`') quote = c
    else if (text.startsWith(delimiter, i)) return i
  }
  return -1
}
