/**
 * The parent's end of the client process: forks `ClientChild.ts` and turns each of its faces
 * into a `Measure.Side`, so the rounds alternate with the in-process side as in every suite.
 *
 * @since 0.1.0
 */
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type * as Measure from "../Measure.js"
import * as Profile from "./Profile.js"
import type { Face, Init, Reply, Request } from "./Protocol.js"

/** @since 0.1.0 */
export interface ClientProcess {
  /** A side that works through `face`, pushing each command's round trip (ms) to `latencies`. */
  readonly side: (face: Face, latencies: Array<number>) => Measure.Side
  /** The client process's CPU time (µs) over all rounds so far, by face, and their commands. */
  readonly cpu: (face: Face) => { readonly micros: number; readonly units: number }
  /**
   * Works through `face` alone for `millis` while both processes are profiled: this one (the
   * node) to `nodePath`, the client process to `clientPath`. Returns the commands done.
   */
  readonly profile: (face: Face, millis: number, nodePath: string, clientPath: string) => Promise<number>
  readonly close: () => Promise<void>
}

/**
 * Starts the child and hands it the node's address, the key and the accounts; resolves once the
 * child is listening.
 *
 * @since 0.1.0
 */
export const start = (init: Omit<Init, "_tag">, log: (line: string) => void): Promise<ClientProcess> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = fork(fileURLToPath(new URL("./ClientChild.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "pipe", "pipe", "ipc"]
    })
    const forward = (chunk: string) => {
      for (const line of chunk.split("\n")) if (line.length > 0) log(`  [client] ${line}`)
    }
    child.stdout!.setEncoding("utf8").on("data", forward)
    child.stderr!.setEncoding("utf8").on("data", forward)

    // The child answers one request at a time, in order.
    let pending: { readonly resolve: (reply: Reply) => void; readonly reject: (e: Error) => void } | undefined
    let exited: Error | undefined
    const request = (message: Request): Promise<Reply> =>
      new Promise((res, rej) => {
        if (exited) return rej(exited)
        pending = { resolve: res, reject: rej }
        child.send(message)
      })
    child.on("message", (reply: Reply) => {
      const p = pending
      pending = undefined
      p?.resolve(reply)
    })
    child.on("error", (e) => {
      exited = e
      pending?.reject(e)
      reject(e)
    })
    child.on("exit", (code, signal) => {
      exited = new Error(`the client process exited (${signal ?? code})`)
      pending?.reject(exited)
      reject(exited)
    })

    const cpu = new Map<Face, { micros: number; units: number }>()
    let round = 0
    const side = (face: Face, latencies: Array<number>): Measure.Side => ({
      run: async (deadline) => {
        const start = performance.now()
        const reply = await request({ _tag: "Run", round: ++round, face, millis: Math.max(0, deadline - performance.now()) })
        if (reply._tag === "Failed") throw new Error(`client process, ${face}: ${reply.message}`)
        if (reply._tag !== "Done") throw new Error(`client process, ${face}: unexpected ${reply._tag}`)
        for (const l of reply.latencies) latencies.push(l)
        const total = cpu.get(face) ?? { micros: 0, units: 0 }
        total.micros += reply.cpuMicros
        total.units += reply.units
        cpu.set(face, total)
        return { units: reply.units, until: start + reply.millis }
      }
    })

    const profile = (face: Face, millis: number, nodePath: string, clientPath: string) =>
      Profile.during(nodePath, async () => {
        const reply = await request({ _tag: "Profile", round: ++round, face, millis, path: clientPath })
        if (reply._tag !== "Done") throw new Error(`client process, ${face}: ${reply._tag === "Failed" ? reply.message : reply._tag}`)
        return reply.units
      })

    const close = async () => {
      if (exited) return
      const gone = new Promise<void>((res) => child.once("exit", () => res()))
      child.send({ _tag: "Stop" } satisfies Request)
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
      await gone
      clearTimeout(timer)
    }

    request({ _tag: "Init", ...init }).then((reply) => {
      if (reply._tag === "Ready") {
        resolve({ side, cpu: (face) => ({ ...(cpu.get(face) ?? { micros: 0, units: 0 }) }), profile, close })
      } else {
        reject(new Error(`client process: ${reply._tag === "Failed" ? reply.message : reply._tag}`))
      }
    }, reject)
  })
