let counter = 0;

/** A process-unique suffix for tfjs variable names (the engine rejects duplicate names). */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}_${counter}`;
}
