/**
 * Memory per resident idle aggregate, measured in a child process (`MemoryChild.ts`) so the
 * collector can be forced and nothing of the other workloads sits on the heap.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { adminQuery as admin } from "../BenchDatabase.js"
import type { MemoryReport } from "./MemoryChild.js"


/**
 * Runs `f` on a fresh database of the same server as `url`, dropped afterwards. The child's node
 * needs one of its own: on the suite's database the suite's node holds every shard.
 */
const onOwnDatabase = async <A>(url: string, f: (url: string) => Promise<A>): Promise<A> => {
  const parsed = new URL(url)
  const name = `recount_bench_memory_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  await admin(url, `CREATE DATABASE ${name}`)
  try {
    parsed.pathname = `/${name}`
    return await f(parsed.toString())
  } finally {
    await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
  }
}

/**
 * @since 0.1.0
 */
export const measure = (
  url: string,
  count: number,
  budgetSeconds: number,
  log: (line: string) => void,
  signal?: AbortSignal
): Promise<MemoryReport> => onOwnDatabase(url, (own) => inChild(own, count, budgetSeconds, log, signal))

const inChild = (
  url: string,
  count: number,
  budgetSeconds: number,
  log: (line: string) => void,
  signal: AbortSignal | undefined
): Promise<MemoryReport> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      // 100k resident aggregates take about 2.6 GB; the default 4 GB limit left too little room
      // for the forced collections that measure them.
      ["--expose-gc", "--max-old-space-size=8192", "--import", "tsx", fileURLToPath(new URL("./MemoryChild.ts", import.meta.url)), url, String(count), String(budgetSeconds)],
      // Interrupting the suite (Ctrl-C) aborts the signal, which kills the child.
      { stdio: ["ignore", "pipe", "pipe"], ...(signal ? { signal } : {}) }
    )
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (out += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) if (line.length > 0) log(line)
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop()
      if (code !== 0 || line === undefined || line.length === 0) return reject(new Error(`the memory child exited with ${code}`))
      try {
        resolve(JSON.parse(line) as MemoryReport)
      } catch (e) {
        reject(new Error(`the memory child printed ${JSON.stringify(line)}: ${String(e)}`))
      }
    })
  })
