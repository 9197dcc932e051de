// Interactive shell, line by line (research drivers.md §3.2). Keystrokes pass straight through, so
// remote echo, readline editing, history and completion keep working; only the keys that submit a
// line are held. On Enter we wait for the output to settle and read the line *as the terminal shows
// it* from a headless VT model (@xterm/headless) fed with the server's output, so `ech<Tab>`,
// `<Up>` and backspaces are seen as bash will run them. A denied line is cancelled with Ctrl-C.
// The alternate screen is the server's to switch, so it only passes keys ungated while a full-screen
// program the gate let run (and nothing else on its line) holds it.
import { StringDecoder } from 'node:string_decoder'
import xterm from '@xterm/headless'

const { Terminal } = xterm

/** Keys that make readline accept the line: CR, LF, and Ctrl-O (operate-and-get-next). */
const SUBMIT = new Set(['\r', '\n', '\x0f'])
/** Ctrl-X starts `Ctrl-X Ctrl-E` (edit-and-execute-command): the edited text would run unseen. */
const DROPPED = '\x18'
/** Keys after which readline abandons or redraws the line: re-read the start before the next line. */
const RESETS = ['\x03', '\x04', '\x0c']
const BRACKETED_PASTE = ['\x1b[200~', '\x1b[201~']

/**
 * Programs whose keys pass ungated on the alternate screen. Not tmux, screen or mc: they run shells
 * whose lines would go undecided. Most of these have shell escapes (vim `:!`, less `!`): allowing one
 * in policy allows any command.
 */
export const FULL_SCREEN_PROGRAMS: readonly string[] = Object.freeze([
  'vim',
  'vi',
  'view',
  'nvim',
  'nano',
  'less',
  'more',
  'most',
  'man',
  'top',
  'htop',
  'watch',
])

export interface ShellGateOptions {
  readonly cols: number
  readonly rows: number
  /** Resolves with the programs the line runs when it may run; rejects (with the reason) when it may not. */
  readonly decide: (line: string) => Promise<readonly string[]>
  /** Shown to the user (locally) when a line is refused. */
  readonly notify: (message: string) => void
  /** Output must be quiet this long before the screen is read. Default 40 ms. */
  readonly quietMs?: number
  /** Upper bound on waiting for the screen to catch up. Default 2000 ms. */
  readonly maxSettleMs?: number
  /** Programs trusted with the keyboard on the alternate screen. Default `FULL_SCREEN_PROGRAMS`. */
  readonly fullScreenPrograms?: readonly string[]
}

interface LineStart {
  readonly x: number
  readonly y: number
  readonly prompt: string
  /** Where the line starts is not known: its Enter is cancelled. */
  readonly blind?: true
}

/**
 * Whether keys pass ungated: `pending` once a line running only full-screen programs is allowed,
 * `on` when the screen then switches to the alternate buffer, `off` again when it switches back or
 * the next line is submitted (a printf of `\e[?1049h` never turns it on).
 */
type FullScreen = 'off' | 'pending' | 'on'

export class ShellGate {
  readonly #term: InstanceType<typeof Terminal>
  readonly #options: ShellGateOptions
  readonly #decoder = new StringDecoder('utf8')
  #lastOutput = 0
  #lastSent = 0
  #start: LineStart | undefined
  /** Keys typed since the line started, to predict the line when they are plain text and backspaces. */
  #typed = ''
  #lastPrompt: string | undefined
  readonly #fullScreenPrograms: ReadonlySet<string>
  #fullScreen: FullScreen = 'off'
  /** Line feeds since a full-screen line was allowed. */
  #feeds = 0
  /** A trusted full-screen program just ended: keys typed as it exited may already sit in the shell's line. */
  #resumed = false

  constructor(options: ShellGateOptions) {
    this.#options = options
    this.#fullScreenPrograms = new Set(options.fullScreenPrograms ?? FULL_SCREEN_PROGRAMS)
    this.#term = new Terminal({
      cols: options.cols,
      rows: options.rows,
      allowProposedApi: true,
      scrollback: 2000,
    })
    this.#term.buffer.onBufferChange((buffer) => {
      if (buffer.type === 'normal') {
        if (this.#fullScreen === 'on') this.#resumed = true
        this.#fullScreen = 'off'
      } else if (this.#fullScreen === 'pending') this.#fullScreen = 'on'
    })
    this.#term.onLineFeed(() => {
      // The first is the Enter's echo. A line of output before the switch means the program printed
      // and probably exited (`vim --version`): a later switch (a background job's) is not trusted.
      if (this.#fullScreen === 'pending' && ++this.#feeds > 1) this.#fullScreen = 'off'
    })
  }

  /** Server output, raw (before masking): the model must show what the server drew. */
  feed(chunk: Buffer): void {
    this.#lastOutput = performance.now()
    this.#term.write(chunk)
  }

  resize(cols: number, rows: number): void {
    this.#term.resize(cols, rows)
  }

  dispose(): void {
    this.#term.dispose()
  }

  /** Everything the application types, in order. */
  async input(chunk: Buffer, send: (data: string) => Promise<void>): Promise<void> {
    let text = this.#decoder.write(chunk)
    while (this.#trusted()) {
      // A full-screen program the gate let run (vim, less) has the keyboard: not a shell line. Enter is
      // held until the screen settles: if the keys before it ended the program, the shell reads it.
      const at = [...SUBMIT].reduce((first, k) => {
        const i = text.indexOf(k)
        return i >= 0 && i < first ? i : first
      }, text.length)
      if (at > 0) await this.#send(text.slice(0, at), send)
      if (at === text.length) return
      await this.#settle(true)
      if (!this.#trusted()) {
        text = text.slice(at)
        break
      }
      await this.#send(text[at], send)
      text = text.slice(at + 1)
    }
    // Bracketed paste would let newlines into readline's buffer without submitting: strip the markers
    // so every pasted newline is a submit we gate.
    for (const marker of BRACKETED_PASTE) text = text.split(marker).join('')
    let run = ''
    for (const c of text) {
      if (c === DROPPED) continue
      if (!SUBMIT.has(c)) {
        run += c
        continue
      }
      if (run) await this.#type(run, send)
      run = ''
      await this.#submit(c === '\x0f' ? '\r' : c, send)
    }
    if (run) await this.#type(run, send)
  }

  async #send(keys: string, send: (data: string) => Promise<void>): Promise<void> {
    this.#lastSent = performance.now()
    await send(keys)
  }

  async #type(keys: string, send: (data: string) => Promise<void>): Promise<void> {
    if (this.#start === undefined) {
      // The line starts where the prompt ends: wait until the server has answered what we sent last.
      await this.#settle(this.#lastSent > 0)
      const prompt = this.#lastPrompt
      this.#start = this.#capture()
      if (this.#resumed) {
        // After a full-screen program, text before the cursor may be type-ahead, not prompt: the line
        // starts after the prompt shown before the program, or is not known.
        this.#resumed = false
        const start = this.#start
        this.#start =
          prompt !== undefined && prompt.trim() !== '' && start.prompt.startsWith(prompt)
            ? { x: prompt.length, y: start.y, prompt }
            : { ...start, blind: true }
        this.#lastPrompt = prompt
      }
      this.#typed = ''
    }
    this.#typed += keys
    await this.#send(keys, send)
    if (RESETS.some((k) => keys.includes(k))) this.#start = undefined
  }

  async #submit(key: string, rawSend: (data: string) => Promise<void>): Promise<void> {
    const send = (data: string) => {
      this.#lastSent = performance.now()
      return rawSend(data)
    }
    if (this.#trusted()) return send(key)
    // A new line: whatever ran before no longer holds the screen.
    this.#fullScreen = 'off'
    const start = this.#start
    this.#start = undefined
    const line = await this.#settledLine(start, predict(this.#typed))
    this.#resumed = false
    if (line === undefined || (start !== undefined && line === '')) {
      // Keys were typed but the screen does not show a line we can trust (no echo, lag, redraw): fail closed.
      await send('\x03')
      this.#options.notify('warden: could not read the line from the terminal; it was cancelled')
      return
    }
    if (line === '') return send(key)
    let programs: readonly string[]
    try {
      programs = await this.#options.decide(line)
    } catch (error) {
      await send('\x03')
      this.#options.notify(`warden: ${(error as Error)?.message ?? 'denied'}`)
      return
    }
    // Only when every program is full-screen: `less x; printf '\e[?1049h'` must not be trusted.
    if (programs.length > 0 && programs.every((p) => this.#fullScreenPrograms.has(p))) {
      this.#fullScreen = 'pending'
      this.#feeds = 0
    }
    await send(key)
  }

  /** Keys pass ungated: a full-screen program the gate allowed switched to the alternate screen. */
  #trusted(): boolean {
    return this.#fullScreen === 'on' && this.#term.buffer.active.type === 'alternate'
  }

  #capture(): LineStart {
    const b = this.#term.buffer.active
    const y = b.cursorY + b.baseY
    const prompt = b.getLine(y)?.translateToString(false, 0, b.cursorX) ?? ''
    this.#lastPrompt = prompt
    return { x: b.cursorX, y, prompt }
  }

  /** The logical line (wrapped rows joined) holding the cursor, from its first row. */
  #cursorLine(): { head: number; text: string } {
    const b = this.#term.buffer.active
    let head = b.cursorY + b.baseY
    while (head > 0 && b.getLine(head)?.isWrapped) head--
    let text = b.getLine(head)?.translateToString(true) ?? ''
    for (let y = head + 1; b.getLine(y)?.isWrapped; y++) text += b.getLine(y)!.translateToString(true)
    return { head, text }
  }

  /** The line the shell will run, or undefined when the screen cannot be trusted to show it. */
  #readLine(start: LineStart | undefined): string | undefined {
    const { head, text } = this.#cursorLine()
    if (start?.blind) return undefined
    if (start !== undefined) {
      // Normal case: the line starts where its first keystroke was typed.
      if (head === start.y && text.startsWith(start.prompt)) return text.slice(start.x).trim()
      // Redrawn (e.g. Ctrl-L) but the same prompt leads the cursor's line.
      if (start.prompt.trim() !== '' && text.startsWith(start.prompt))
        return text.slice(start.prompt.length).trim()
      return undefined
    }
    // Right after a full-screen program, keys typed as it exited may be in the line, maybe not yet
    // drawn: cancel (harmless on an empty line) rather than pass.
    if (this.#resumed) return undefined
    // Enter without keystrokes: an empty line, unless the buffer was pre-filled.
    const prompt = this.#lastPrompt
    if (prompt !== undefined && prompt.trim() !== '' && text.startsWith(prompt))
      return text.slice(prompt.length).trim()
    return ''
  }

  /**
   * Reads the line once the screen has caught up with what was typed. When the keys were plain text
   * and backspaces, the line is known in advance and we wait until the screen shows exactly it;
   * otherwise (tab, arrows, history) we wait for echo after the last key and then quiet output.
   */
  async #settledLine(
    start: LineStart | undefined,
    expected: string | undefined,
  ): Promise<string | undefined> {
    if (expected === undefined || start === undefined) {
      await this.#settle(start !== undefined)
      return this.#readLine(start)
    }
    const deadline = performance.now() + (this.#options.maxSettleMs ?? 2000)
    for (;;) {
      await this.#flush()
      const line = this.#readLine(start)
      if (line === expected.trim()) return line
      if (performance.now() > deadline) return undefined
      await sleep(10)
    }
  }

  async #settle(expectEcho = false): Promise<void> {
    const quiet = this.#options.quietMs ?? 40
    const deadline = performance.now() + (this.#options.maxSettleMs ?? 2000)
    do await sleep(Math.min(quiet, 20))
    while (
      (performance.now() - this.#lastOutput < quiet || (expectEcho && this.#lastOutput < this.#lastSent)) &&
      performance.now() < deadline
    )
    await this.#flush()
  }

  /** Resolves when the VT parser has processed everything fed so far. */
  #flush(): Promise<void> {
    return new Promise<void>((resolve) => this.#term.write('', resolve))
  }
}

/** The line readline will hold after `keys`, when they are only printable text and backspaces. */
function predict(keys: string): string | undefined {
  let line = ''
  for (const c of keys) {
    if (c === '\x7f' || c === '\b') line = line.slice(0, -1)
    else if (c >= ' ') line += c
    else return undefined
  }
  return line
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
