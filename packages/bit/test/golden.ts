import { readFileSync } from 'node:fs';
import type { Packed } from './helpers';

export interface Golden {
  groupNorm: { groups: number; epsilon: number; x: Packed; gamma: Packed; beta: Packed; y: Packed }[];
  standardizedConv: {
    variant: 'bit' | 'timm' | 'ws';
    scale: number;
    stride: number;
    padding: number;
    x: Packed;
    kernel: Packed;
    standardized: Packed;
    y: Packed;
  }[];
  tinyResNet: {
    groups: number;
    root: number;
    stages: { units: number; cout: number; stride: number }[];
    classes: number;
    x: Packed;
    weights: Record<string, Packed>;
    logits: Packed;
    preLogits: Packed;
  };
}

export const golden: Golden = JSON.parse(readFileSync(new URL('./fixtures/bit-golden.json', import.meta.url), 'utf8'));
