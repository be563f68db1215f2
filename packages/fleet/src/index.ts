/**
 * `@kd/fleet`: teacher outputs precomputed by a fleet of worker processes over Redis + BullMQ.
 * A coordinator splits a source into shard jobs (position ranges), workers run the teacher in
 * sandboxed child processes and write `@kd/teacher-store` shards, and the coordinator verifies
 * the run and writes `manifest.json` last (the commit point). Node only.
 * @packageDocumentation
 */
export {
  type CoordinatorOptions,
  type CoordinatorResult,
  codePointCompare,
  coordinatorSchema,
  type FleetManifestRecord,
  runCoordinator,
} from './coordinator';
export { FleetError, type FleetErrorCode, fleetErrorCodes } from './errors';
export { planShards, type ShardRange, shardFile } from './plan';
export { type RedisConnectionOptions, redactUrl, redisConnection } from './redis';
export { type FleetRun, fleetRunSchema, runKeys, type ShardCompletion, type ShardJob } from './run';
export { type FleetTraining, type FleetWaitOptions, fleetTeacher, fleetWaitSchema, waitForFleet } from './wait';
export { type FleetWorker, startWorker, type WorkerOptions, workerSchema } from './worker';
