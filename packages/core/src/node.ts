/**
 * Node-only IO of `@kd/core`: model files and checkpoints on the local file system, without
 * tfjs-node. Import from `@kd/core/node`.
 * @packageDocumentation
 */
export { atomicWriteFile } from './io/atomicWriteFile';
export { fileCheckpointStore } from './io/fileCheckpointStore';
export { fileSystem } from './io/fileSystem';
export { fileTeacherCacheStore } from './io/fileTeacherCacheStore';
export { loadModel, saveModel } from './io/modelFiles';
