import { isDistillationError } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { planShards, shardFile } from './plan';
import { redisConnection } from './redis';

describe('planShards', () => {
  it('splits positions into consecutive ranges of shardSize, the last one shorter', () => {
    expect(planShards(10, 4)).toEqual([
      { shard: 0, start: 0, end: 4 },
      { shard: 1, start: 4, end: 8 },
      { shard: 2, start: 8, end: 10 },
    ]);
    expect(planShards(8, 4).map((s) => s.end - s.start)).toEqual([4, 4]);
    expect(shardFile(3)).toBe('shard-00003.arrow');
  });
  it('refuses a size or shard size that is not a positive integer', () => {
    for (const [n, k] of [
      [0, 4],
      [10, 0],
      [10, 2.5],
    ]) {
      expect(() => planShards(n!, k!)).toThrow(expect.objectContaining({ code: 'bad-option' }));
    }
  });
});

describe('redisConnection', () => {
  it('reads host, port, database, user and password from the URL; rediss: turns TLS on; extra options pass through', () => {
    expect(redisConnection('redis://127.0.0.1:6390')).toEqual({ host: '127.0.0.1', port: 6390, db: 0, maxRetriesPerRequest: null });
    const c = redisConnection('rediss://kd:p%40ss@redis.example/3', { connectTimeout: 500, tls: { rejectUnauthorized: true } });
    expect(c).toEqual({
      host: 'redis.example',
      port: 6379,
      db: 3,
      username: 'kd',
      password: 'p@ss',
      tls: { servername: 'redis.example', rejectUnauthorized: true },
      connectTimeout: 500,
      maxRetriesPerRequest: null,
    });
  });
  it('refuses other schemes and paths with fleet-bad-redis-url, never printing the password', () => {
    for (const url of ['http://h:1', 'redis://h/x', 'redis://h/1?a=b', 'not a url']) {
      let error: unknown;
      try {
        redisConnection(url);
      } catch (e) {
        error = e;
      }
      expect(isDistillationError(error, 'fleet-bad-redis-url')).toBe(true);
    }
    expect(() => redisConnection('http://u:hunter2@h')).toThrow(/\*\*\*/);
    expect(() => redisConnection('http://u:hunter2@h')).not.toThrow(/hunter2/);
  });
});
