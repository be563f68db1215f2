import { DistillationError } from './errors';
import { checkBatch, type DataSource, isRandomAccess, type SequentialSource, type SourceBatch, sourceName } from './source';

/** One batch of an epoch: the positions it holds (in `[0, N)`) and their checked examples. */
export interface ReadBatch {
  /** The positions of the batch's examples, in batch order. */
  readonly positions: Int32Array;
  /** Their examples, checked. */
  readonly batch: SourceBatch;
}

/** How a {@link BatchReader} walks a source. */
export interface BatchReaderOptions {
  /** The epoch's order of positions (a permutation of `0..N-1`, or a shuffle buffer's order). */
  readonly order: Int32Array;
  /** Examples per batch. */
  readonly batchSize: number;
  /** The first batch to read (a resume inside an epoch starts later). Default 0. */
  readonly startBatch?: number;
  /** Batches read ahead of the one being consumed (a bounded queue). 0 reads on demand. */
  readonly prefetch: number;
  /** Names the data in messages, e.g. `training data`. */
  readonly what: string;
  /** Labels must be in `[0, numClasses)`. */
  readonly numClasses: number;
}

/**
 * Reads the batches of one epoch in order, `prefetch` batches ahead of the consumer: reads are
 * plain arrays (no tensors), issued one after another (a source is never read concurrently), so
 * the examples of a batch do not depend on how far ahead the reader runs. A front-to-back source
 * is streamed once per epoch; each example waits in memory from the moment the stream passes it
 * until its batch is read (for a shuffle buffer's order, about the buffer's size plus the
 * `prefetch + 1` batches in flight).
 * Every batch is checked ({@link checkBatch}) before it is handed out.
 */
export class BatchReader {
  private readonly batches: number;
  private nextToIssue: number;
  private nextToTake: number;
  private readonly pending = new Map<number, Promise<ReadBatch>>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly stream?: StreamAssembler;

  constructor(
    private readonly source: DataSource,
    private readonly options: BatchReaderOptions,
  ) {
    this.batches = Math.ceil(options.order.length / options.batchSize);
    this.nextToIssue = this.nextToTake = options.startBatch ?? 0;
    if (!isRandomAccess(source)) {
      this.stream = new StreamAssembler(source, options.order, this.nextToTake * options.batchSize, options.what, options.numClasses);
    }
  }

  /** The next batch of the epoch (throws what its read threw, at this batch). */
  async next(): Promise<ReadBatch> {
    const k = this.nextToTake;
    if (k >= this.batches) throw new DistillationError('bad-source', `${this.options.what}: read past the end of the epoch`);
    while (this.nextToIssue <= Math.min(k + this.options.prefetch, this.batches - 1)) this.issue(this.nextToIssue++);
    const result = this.pending.get(k)!;
    this.pending.delete(k);
    this.nextToTake++;
    return result;
  }

  /** Stops reading: waits for reads in flight (their errors are dropped) and closes the stream. */
  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    this.pending.clear();
    // Closing must never mask the error that stopped the epoch.
    await this.stream?.close().catch(() => undefined);
  }

  private issue(k: number): void {
    const { order, batchSize, what, numClasses } = this.options;
    const positions = order.subarray(k * batchSize, Math.min(order.length, (k + 1) * batchSize));
    const read = this.chain.then(async (): Promise<ReadBatch> => {
      if (this.stream) return { positions, batch: await this.stream.take(positions, k === this.batches - 1) };
      const source = this.source as Extract<DataSource, { read: unknown }>;
      return { positions, batch: checkBatch(source, await source.read(positions), positions, what, numClasses) };
    });
    // A failed read fails its own batch only; later reads still wait for it to settle.
    this.chain = read.catch(() => undefined);
    read.catch(() => undefined);
    this.pending.set(k, read);
  }
}

/** Streams a front-to-back source once and assembles batches of any positions from it. */
class StreamAssembler {
  private readonly iterator: AsyncIterator<SourceBatch> | Iterator<SourceBatch>;
  private readonly rank: Int32Array;
  private readonly waiting = new Map<number, { x: Float32Array; y: number; id: SourceBatch['ids'][number]; teacherX?: Float32Array }>();
  private seen = 0;
  private readonly width: number;
  private readonly teacherWidth: number;

  constructor(
    private readonly source: SequentialSource,
    order: Int32Array,
    private readonly skipBefore: number,
    private readonly what: string,
    private readonly numClasses: number,
  ) {
    const stream = source.stream();
    const asyncIterator = (stream as AsyncIterable<SourceBatch>)[Symbol.asyncIterator];
    this.iterator = asyncIterator ? asyncIterator.call(stream) : (stream as Iterable<SourceBatch>)[Symbol.iterator]();
    this.rank = new Int32Array(order.length);
    for (let i = 0; i < order.length; i++) this.rank[order[i]!] = i;
    this.width = source.exampleShape.reduce((a, b) => a * b, 1);
    this.teacherWidth = source.teacherExampleShape?.reduce((a, b) => a * b, 1) ?? 0;
  }

  async take(positions: Int32Array, last: boolean): Promise<SourceBatch> {
    const n = positions.length;
    for (let i = 0; i < n; i++) while (!this.waiting.has(positions[i]!)) await this.pull();
    // The last batch drains the stream: every example must have come, and no more than size.
    if (last) while (this.seen < this.source.size) await this.pull();
    if (last) {
      for (;;) {
        const { done, value } = await this.iterator.next();
        if (done) break;
        if (value?.y instanceof Int32Array && value.y.length === 0) continue;
        this.tooMany(this.seen + (value?.y instanceof Int32Array ? value.y.length : 1));
      }
    }
    const x = new Float32Array(n * this.width);
    const y = new Int32Array(n);
    const teacherX = this.teacherWidth ? new Float32Array(n * this.teacherWidth) : undefined;
    const ids: SourceBatch['ids'][number][] = [];
    for (let i = 0; i < n; i++) {
      const example = this.waiting.get(positions[i]!)!;
      this.waiting.delete(positions[i]!);
      x.set(example.x, i * this.width);
      y[i] = example.y;
      ids.push(example.id);
      if (teacherX && example.teacherX) teacherX.set(example.teacherX, i * this.teacherWidth);
    }
    if (new Set(ids).size < new Set(positions).size) {
      throw new DistillationError(
        'bad-source',
        `${sourceName(this.source, this.what)}: stream() yielded repeated ids (${n} examples of this batch have ${new Set(ids).size} distinct ids)`,
      );
    }
    return { x, y, ids, ...(teacherX ? { teacherX } : {}) };
  }

  async close(): Promise<void> {
    this.waiting.clear();
    await this.iterator.return?.();
  }

  private async pull(): Promise<void> {
    const name = sourceName(this.source, this.what);
    const { done, value } = await this.iterator.next();
    if (done) {
      throw new DistillationError(
        'bad-source',
        `${name}: stream() ended after ${this.seen} examples, but the source declares size ${this.source.size}`,
      );
    }
    const n = value?.y instanceof Int32Array ? value.y.length : 0;
    if (this.seen + n > this.source.size) this.tooMany(this.seen + n);
    const positions = Int32Array.from({ length: n }, (_, i) => this.seen + i);
    const chunk = checkBatch(this.source, value, positions, this.what, this.numClasses);
    for (let i = 0; i < n; i++) {
      const position = this.seen + i;
      if (this.rank[position]! < this.skipBefore) continue;
      this.waiting.set(position, {
        x: chunk.x.slice(i * this.width, (i + 1) * this.width),
        y: chunk.y[i]!,
        id: chunk.ids[i]!,
        ...(chunk.teacherX ? { teacherX: chunk.teacherX.slice(i * this.teacherWidth, (i + 1) * this.teacherWidth) } : {}),
      });
    }
    this.seen += n;
  }

  private tooMany(count: number): never {
    throw new DistillationError(
      'bad-source',
      `${sourceName(this.source, this.what)}: stream() yields at least ${count} examples, but the source declares size ${this.source.size}`,
    );
  }
}
