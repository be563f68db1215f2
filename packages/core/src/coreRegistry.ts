import { adam, adamSchema, adamW, adamWSchema } from './optimizers/adam';
import { rmsprop, rmspropSchema } from './optimizers/rmsprop';
import { sgd, sgdSchema } from './optimizers/sgd';
import { hardLabel, hardLabelSchema } from './plugins/hardLabel';
import { logitMatching, logitMatchingSchema } from './plugins/logitMatching';
import { softTargets, softTargetsSchema } from './plugins/softTargets';
import { defineRegistry, registryEntry } from './registry';
import { cosineDecay, cosineDecaySchema, stepDecay, stepDecaySchema } from './schedules';

/**
 * `@kd/core`'s entries for config-file runs: Hinton's soft targets, hard labels and logit
 * matching; kd's optimizers; the learning-rate schedules. Names are the factories' names.
 */
export const registry = defineRegistry({
  methods: {
    softTargets: registryEntry({
      schema: softTargetsSchema,
      summary: 'weight * T^2 * KL(p_teacher(T) || p_student(T)) (Hinton et al. 2015); term kd',
      create: (options) => softTargets(options),
    }),
    hardLabel: registryEntry({
      schema: hardLabelSchema,
      summary: 'weight * cross-entropy(labels, softmax(student logits)); term ce',
      create: (options) => hardLabel(options),
    }),
    logitMatching: registryEntry({
      schema: logitMatchingSchema,
      summary: 'weight * mean((z_student - z_teacher)^2) (Ba & Caruana 2014); term logits',
      create: (options) => logitMatching(options),
    }),
  },
  optimizers: {
    sgd: registryEntry({ schema: sgdSchema, summary: 'SGD with momentum, Nesterov and decoupled weight decay', create: (o) => sgd(o) }),
    adam: registryEntry({ schema: adamSchema, summary: 'Adam (Kingma & Ba 2015)', create: (o) => adam(o) }),
    adamW: registryEntry({
      schema: adamWSchema,
      summary: 'AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019)',
      create: (o) => adamW(o),
    }),
    rmsprop: registryEntry({ schema: rmspropSchema, summary: 'RMSprop', create: (o) => rmsprop(o) }),
  },
  schedules: {
    stepDecay: registryEntry({
      schema: stepDecaySchema,
      summary: 'initial * factor^(boundaries passed), by epoch',
      create: (o) => stepDecay(o),
    }),
    cosineDecay: registryEntry({
      schema: cosineDecaySchema,
      summary: 'final + (initial - final) * (1 + cos(pi * step / last step)) / 2',
      create: (o) => cosineDecay(o),
    }),
  },
});
