import type { EpochRecord } from './runLogs';

/** Where each stage after the first starts on the run's epoch axis. */
export interface StageStart {
  readonly stage: string;
  /** Half an epoch before the stage's first epoch: between the two stages' points. */
  readonly at: number;
}

/** The starts of the stages after the first of a staged run (none for a run of one stage). */
export function stageStarts(epochs: readonly EpochRecord[]): StageStart[] {
  const starts: StageStart[] = [];
  let previous: string | undefined;
  for (const epoch of epochs) {
    const stage = epoch.stage ?? '';
    if (previous !== undefined && stage !== previous) starts.push({ stage, at: epoch.runEpoch - 0.5 });
    previous = stage;
  }
  return starts;
}

/**
 * Vega-lite layers that mark where each later stage of a staged run starts: a dotted vertical
 * rule with the stage's name at the top. Empty for a run of one stage.
 */
export function stageStartLayers(epochs: readonly EpochRecord[]) {
  const starts = stageStarts(epochs);
  if (starts.length === 0) return [];
  return [
    {
      data: { values: starts },
      mark: { type: 'rule' as const, strokeDash: [2, 3], color: '#999999' },
      encoding: { x: { field: 'at', type: 'quantitative' as const } },
    },
    {
      data: { values: starts },
      mark: { type: 'text' as const, align: 'left' as const, baseline: 'top' as const, dx: 3, y: 2, color: '#666666' },
      encoding: { x: { field: 'at', type: 'quantitative' as const }, text: { field: 'stage' } },
    },
  ];
}
