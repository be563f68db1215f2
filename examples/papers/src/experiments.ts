import { runBitNorm } from './bitNorm';
import { runBitTransfer } from './bitTransfer';
import { runBitTransferLr } from './bitTransferLr';
import { runCorrelation } from './correlation';
import { runCrdEnsemble } from './crdEnsemble';
import { runCrossModal } from './crossModal';
import { runEnsemble } from './ensemble';
import type { Experiment } from './experiment';
import { runHinton } from './hinton';

/** Every experiment of the example, in the README's order (one entry each). */
export const EXPERIMENTS: readonly Experiment[] = [
  {
    name: 'ensemble',
    title: 'Hinton et al. 2015, sect. 4: ten MLPs distilled into one (ensemble, arithmetic and geometric mean, T on validation)',
    run: runEnsemble,
  },
  {
    name: 'hinton',
    title: 'Hinton et al. 2015, sect. 3 and 6: a distilled MLP on Fashion-MNIST; soft targets as a regulariser on 3 %',
    run: runHinton,
  },
  { name: 'bit-norm', title: 'Kolesnikov et al. 2020 (BiT): GroupNorm + WS against BatchNorm at batch 1, 2, 4, 16, 64', run: runBitNorm },
  {
    name: 'bit-transfer',
    title: 'Kolesnikov et al. 2020 (BiT): Fashion-MNIST upstream, HyperRule transfer to digits at 1-100 / class, distilled into a CNN',
    run: runBitTransfer,
  },
  {
    name: 'bit-transfer-lr',
    title: "BiT transfer's downstream learning rate chosen on validation digits (a grid, transfer and scratch)",
    run: runBitTransferLr,
  },
  {
    name: 'crd-ensemble',
    title: 'Tian et al. 2020 (CRD), CRD-EN: 4 MLP teachers into one student, against single-teacher CRD and ensemble KD',
    run: runCrdEnsemble,
  },
  {
    name: 'cross-modal',
    title: 'Tian et al. 2020 (CRD), cross-modal: a full-image teacher, students on 7x7 views; scratch, KD, CRD',
    run: runCrossModal,
  },
  {
    name: 'correlation',
    title: "Tian et al. 2020 (CRD), Fig. 3: teacher - student class correlation of the logits (crd-ensemble's students)",
    run: runCorrelation,
  },
];
