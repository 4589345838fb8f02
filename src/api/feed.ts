/**
 * The input stages' options (docs/sensor-feeds.md): checksum, tag add, dedup, throttle, run
 * in the core on every input of a program before its outputs. The schema (`feedShape` in
 * schema/programs.ts) checks them, and they go to the core as the schema returns them: the
 * core deserializes them into its `InputStagesSpec` (serde), field by field as written. So a
 * new setting of a stage is its schema entry and its field in the core; nothing here.
 */
import { feedShape } from '../schema/programs'

const STAGES = Object.keys(feedShape)

/** The stages given in `o` (checked options), for the binding; `undefined` when none is on (the route pays nothing). */
export function inputStages(o: object): Record<string, unknown> | undefined {
  const given = Object.entries(o).filter(([key, value]) => STAGES.includes(key) && value !== undefined)
  return given.length === 0 ? undefined : Object.fromEntries(given)
}
