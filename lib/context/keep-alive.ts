/**
 * Tick timers never keep the process alive, but a request a filter has
 * paused is work in flight: while any is paused, one referenced handle
 * keeps the event loop running (app.inject has no socket to do it).
 */
let paused = 0
let handle: NodeJS.Timeout | undefined

export function holdForPause (): void {
  if (paused++ === 0) handle = setInterval(noop, 0x7fffffff)
}

export function releasePause (): void {
  if (paused === 0) return
  if (--paused === 0 && handle !== undefined) {
    clearInterval(handle)
    handle = undefined
  }
}

function noop (): void {}
