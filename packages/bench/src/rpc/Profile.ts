/**
 * A V8 CPU profile of this process while `f` runs, written where Chrome DevTools or speedscope
 * can open it. The `rpc` suite takes one of the node and one of the client process when
 * `RECOUNT_BENCH_CPU_PROFILE` names a folder, to show where a face's time goes.
 *
 * @since 0.1.0
 */
import { writeFile } from "node:fs/promises"
import { Session } from "node:inspector/promises"

/** @since 0.1.0 */
export const during = async <A>(path: string, f: () => Promise<A>): Promise<A> => {
  const session = new Session()
  session.connect()
  try {
    await session.post("Profiler.enable")
    // 100 µs instead of the default 1 ms: a command's work is split into many short turns.
    await session.post("Profiler.setSamplingInterval", { interval: 100 })
    await session.post("Profiler.start")
    let result: A
    try {
      result = await f()
    } finally {
      const { profile } = await session.post("Profiler.stop")
      await writeFile(path, JSON.stringify(profile))
    }
    return result
  } finally {
    session.disconnect()
  }
}
