/** The aggregate id in a stream name `<category>-<id>` (categories never contain a dash). */
export const idOf = (streamName: string): string => streamName.slice(streamName.indexOf("-") + 1)

/** A recording time's UTC calendar day, `YYYY-MM-DD`. */
export const dayOf = (time: Date): string => time.toISOString().slice(0, 10)
