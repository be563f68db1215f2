import { z } from 'zod';
import { FleetError } from './errors';

/** ioredis connection options (the subset `@kd/fleet` sets; anything given in `extra` is passed through). */
export interface RedisConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /** Node `tls.connect` options; `{}` for a `rediss://` URL without extra options. */
  readonly tls?: Record<string, unknown>;
  /** BullMQ requires `null` for its blocking connections. */
  readonly maxRetriesPerRequest: null;
  readonly [key: string]: unknown;
}

/**
 * ioredis options from a Redis URL: `redis://[user:password@]host[:port][/db]`, or `rediss://`
 * for TLS. The password and user may be percent-encoded. `extra` is passed through as it is
 * (e.g. `{ tls: { ca } }` for a private CA, `connectTimeout`); its `tls` is merged over the URL's.
 * Throws `fleet-bad-redis-url`. Nothing is connected.
 */
export function redisConnection(url: string, extra: Readonly<Record<string, unknown>> = {}): RedisConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new FleetError('fleet-bad-redis-url', `redisConnection: ${JSON.stringify(url)} is not a URL`, { cause: error });
  }
  const secure = parsed.protocol === 'rediss:';
  if (!secure && parsed.protocol !== 'redis:') {
    throw new FleetError('fleet-bad-redis-url', `redisConnection: ${redactUrl(parsed)}: the scheme must be redis: or rediss: (TLS)`);
  }
  const path = parsed.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0 || parsed.search !== '' || parsed.hash !== '') {
    throw new FleetError(
      'fleet-bad-redis-url',
      `redisConnection: ${redactUrl(parsed)}: the path must be a database number (/0, /1, ...) and nothing else`,
    );
  }
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const extraTls = extra.tls as Record<string, unknown> | undefined;
  const tls = secure || extraTls ? { ...(secure ? { servername: parsed.hostname } : {}), ...(extraTls ?? {}) } : undefined;
  return {
    ...extra,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(tls ? { tls } : {}),
    maxRetriesPerRequest: null,
  };
}

/** The URL without its password, for messages. */
export function redactUrl(url: URL | string): string {
  const u = typeof url === 'string' ? new URL(url) : new URL(url.href);
  if (u.password) u.password = '***';
  return u.href;
}

const keyName = z
  .string()
  .regex(/^[\w.-]+$/)
  .default('kd-fleet');

/**
 * The option fields every fleet role (coordinator, worker, waiting trainer) takes to reach the
 * run: the Redis URL and ioredis options, the BullMQ queue name and the key prefix (letters,
 * digits, `_`, `.`, `-`; default `kd-fleet`).
 */
export const connectionFields = {
  redis: z.string().min(1),
  redisOptions: z.record(z.string(), z.unknown()).optional(),
  queue: keyName,
  prefix: keyName,
};
