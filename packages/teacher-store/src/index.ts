/**
 * `@kd/teacher-store`: teacher outputs computed once and read back by example id. The main entry
 * is browser-safe: the format, the shard codec, {@link fetchStoredTeacher} (a store served over
 * HTTP), {@link readStoredTeacher} (a store read through any reader) and {@link teacherFromShards};
 * writing stores and reading directories is in `@kd/teacher-store/node`.
 * @packageDocumentation
 */

export { TeacherStoreError, type TeacherStoreErrorCode, teacherStoreErrorCodes } from './errors';
export { type FetchStoredTeacherOptions, fetchStoredTeacher, fetchStoredTeacherSchema, type StoreFetch, type StoreResponse } from './fetch';
export { toHalf } from './half';
export { parseManifest, type ShardEntry, STORE_VERSION, type StoreManifest, storeManifestSchema } from './manifest';
export {
  type ReadStoredTeacherOptions,
  readStoredTeacher,
  readStoredTeacherSchema,
  type StoreCheckOptions,
  type StoreReader,
} from './read';
export { decodeShard, encodeShard, type ShardRows, tapColumn } from './shard';
export { type StoredTeacher, teacherFromShards } from './storedTeacher';
