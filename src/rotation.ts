/**
 * How file outputs rotate and what is kept, as the schema returns them (`schema/values.ts`
 * parses the text forms). Kept apart from the schema so the public types need no zod.
 */

/** At each UTC hour or day, or before the file grows past a size. */
export type Rotation = 'hourly' | 'daily' | { bytes: number }

/** The newest N rotated files, or those younger than an age. */
export type Retention = { files: number } | { ageSeconds: number }
