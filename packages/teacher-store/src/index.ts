/**
 * `@kd/teacher-store`: teacher outputs computed once and read back by example id. The main entry
 * is browser-safe (the format, shard codec and {@link teacherFromShards}); writing and reading
 * directories is in `@kd/teacher-store/node`.
 * @packageDocumentation
 */
export { TeacherStoreError, type TeacherStoreErrorCode, teacherStoreErrorCodes } from './errors';
export { parseManifest, type ShardEntry, STORE_VERSION, type StoreManifest, storeManifestSchema } from './manifest';
export { decodeShard, encodeShard, type ShardRows, tapColumn } from './shard';
export { type StoredTeacher, teacherFromShards } from './storedTeacher';
