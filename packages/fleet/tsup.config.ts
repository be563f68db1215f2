import { packageBuild } from '../../tsup.config.base';

// processor: the sandboxed BullMQ processor the workers fork (not an entry point of the package); cli: the kd-fleet bin.
export default packageBuild({ index: 'src/index.ts', processor: 'src/processor.ts', cli: 'src/cli.ts' });
