import { type BackendChoice, type BackendName, useBestBackend } from '@kd/backend-gpu';
import * as tf from '@tensorflow/tfjs-core';
import { CliError } from '../errors';

/**
 * Registers the run's backend (`auto`: the fastest installed), prints which one and why, then
 * silences tfjs' own "install tfjs-node" banner: kd has said what it chose. A backend that
 * cannot start is `bad-config` naming the config file.
 */
export async function chooseBackend(name: string, where: string, log: (line: string) => void): Promise<BackendChoice> {
  const choice = await useBestBackend(name as BackendName | 'auto').catch((error: unknown) => {
    throw new CliError('bad-config', `${where}: backend "${name}": ${(error as Error).message}`, { cause: error });
  });
  log(`Backend: ${choice.description}`);
  tf.env().set('PROD', true);
  return choice;
}
