/**
 * Progress of a timed run: on a terminal, a bar redrawn in place; elsewhere (a pipe, a log file,
 * CI) a plain line about every tenth of the run, 1 to 5 seconds apart.
 */
import * as Duration from "effect/Duration"

export interface Output {
  readonly write: (text: string) => void
  readonly isTTY: boolean
}

export interface Progress {
  /** How often to call `update`. */
  readonly interval: Duration.Duration
  readonly update: (elapsedSeconds: number, text: string) => void
  /** Ends the bar's line. */
  readonly done: () => void
}

const width = 30

export const make = (output: Output, totalSeconds: number): Progress => {
  if (output.isTTY) {
    let drawn = false
    return {
      interval: Duration.millis(200),
      update: (elapsed, text) => {
        const done = Math.min(1, totalSeconds > 0 ? elapsed / totalSeconds : 1)
        const filled = Math.round(done * width)
        // \r and "erase to end of line": the bar is redrawn where it is.
        output.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.min(elapsed, totalSeconds).toFixed(0).padStart(String(totalSeconds).length)}/${totalSeconds} s  ${text}\x1b[K`)
        drawn = true
      },
      done: () => {
        if (drawn) output.write("\n")
      }
    }
  }
  return {
    interval: Duration.seconds(Math.min(5, Math.max(1, Math.round(totalSeconds / 10)))),
    update: (elapsed, text) => output.write(`${elapsed.toFixed(0)}/${totalSeconds} s  ${text}\n`),
    done: () => {}
  }
}
