// A per-request AbortSignal that follows the caller's signal and the session's. The session signal lives as
// long as the session, and fetch never removes the listener it adds to a signal (AbortSignal.any also keeps a
// reference per call on Node 20), so the session is linked through one listener that `release()` removes once
// the response is in hand. The caller's signal stays linked, so it still aborts a body being read.
export function linkSignals(
  caller: AbortSignal | null | undefined,
  session: AbortSignal,
): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController()
  if (caller) {
    if (caller.aborted) controller.abort(caller.reason)
    else caller.addEventListener('abort', () => controller.abort(caller.reason), { once: true })
  }
  if (session.aborted) controller.abort(session.reason)
  const onSessionAbort = () => controller.abort(session.reason)
  session.addEventListener('abort', onSessionAbort, { once: true })
  return { signal: controller.signal, release: () => session.removeEventListener('abort', onSessionAbort) }
}
