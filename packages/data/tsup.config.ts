import type { Options } from 'tsup';
import { packageBuild } from '../../tsup.config.base';

// decodeWorker is the image folder's worker thread, loaded by path (dist/decodeWorker.js / .cjs next
// to node.js / node.cjs), not imported: it needs no type declarations.
const options: Options = {
  ...packageBuild({ index: 'src/index.ts', node: 'src/node.ts', decodeWorker: 'src/decodeWorker.ts' }),
  dts: { entry: { index: 'src/index.ts', node: 'src/node.ts' } },
};

export default options;
