// One benchmark worker process (the built package); argv: <redis url> <queue>.
import { startWorker } from '../dist/index.js';

const [url, queue] = process.argv.slice(2);
const fleet = startWorker({ redis: url, queue });
await fleet.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', async () => {
  await fleet.close();
  process.exit(0);
});
