import { describe, expect, it } from 'vitest';
import type { Checkpoint } from './checkpoint';
import { isDistillationError } from './errors';
import { SharedModules } from './sharedModules';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isDistillationError(error) ? error.code : 'not-a-distillation-error';
  }
  return undefined;
}

describe('SharedModules', () => {
  it('makes a module once per key: later requests with equal options (any key order) get the same object', () => {
    const modules = new SharedModules();
    let made = 0;
    const spec = (options: object) => ({ options, create: () => ({ id: ++made }) });
    const a = modules.shared('demo/a', spec({ rate: 0.5, name: 'a' }));
    const again = modules.shared('demo/a', spec({ name: 'a', rate: 0.5 }));
    const b = modules.shared('demo/b', spec({ rate: 0.5, name: 'a' }));
    expect(again).toBe(a);
    expect(b).not.toBe(a);
    expect(made).toBe(2);
    expect(modules.keys).toEqual(['demo/a', 'demo/b']);
  });

  it('refuses a second request for a key with other options, naming both', () => {
    const modules = new SharedModules();
    modules.shared('demo/p', { options: { rate: 0.5 }, create: () => ({}) });
    expect(codeOf(() => modules.shared('demo/p', { options: { rate: 0.25 }, create: () => ({}) }))).toBe('shared-module-conflict');
    expect(() => modules.shared('demo/p', { options: { rate: 0.25 }, create: () => ({}) })).toThrow(
      'Shared module "demo/p" was first asked for with options {"rate":0.5}, now with {"rate":0.25}',
    );
  });

  it('restores every module from the checkpoint in request order, and disposes each once even when one throws', () => {
    const modules = new SharedModules();
    const calls: string[] = [];
    const checkpoint = { plugins: {} } as unknown as Checkpoint;
    for (const key of ['x', 'y', 'z']) {
      modules.shared(key, {
        options: {},
        create: () => key,
        ...(key === 'y' ? {} : { restore: (m: string, c: Checkpoint | undefined) => calls.push(`restore ${m} ${c === checkpoint}`) }),
        dispose: (m: string) => {
          calls.push(`dispose ${m}`);
          if (m === 'x') throw new Error('x failed');
        },
      });
    }
    modules.restore(checkpoint);
    expect(() => modules.dispose()).toThrow('x failed');
    modules.dispose();
    expect(calls).toEqual(['restore x true', 'restore z true', 'dispose x', 'dispose y', 'dispose z']);
    expect(codeOf(() => modules.shared('x', { options: {}, create: () => 'x' }))).toBe('shared-module-conflict');
  });
});
