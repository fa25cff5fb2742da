/** @internal */
const prefix = `chatcmpl-mock-${Math.floor(Math.random() * 0x100000000).toString(36)}`

let sequence = 0

/**
 * A completion id unique within the process: a random prefix per process (so two simulator
 * processes in one benchmark do not collide) and a sequence number.
 *
 * @internal
 */
export const nextId = (): string => `${prefix}-${(sequence++).toString(36).padStart(6, "0")}`
