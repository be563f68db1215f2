import { describe, expect, it } from 'vitest';
import { scopeSvgIds } from './scopeSvgIds';

describe('scopeSvgIds', () => {
  it('prefixes ids and the references to them, and leaves other references alone', () => {
    const svg =
      '<svg><defs><linearGradient id="gradient_0"/><clipPath id="clip1"/></defs>' +
      '<path fill="url(#gradient_0)" clip-path="url(#clip1)"/><use href="#clip1"/><use xlink:href="#gradient_0"/><a href="#elsewhere"/></svg>';
    const scoped = scopeSvgIds(svg, 'losses');
    expect(scoped).toContain('id="losses-gradient_0"');
    expect(scoped).toContain('id="losses-clip1"');
    expect(scoped).toContain('fill="url(#losses-gradient_0)"');
    expect(scoped).toContain('clip-path="url(#losses-clip1)"');
    expect(scoped).toContain('<use href="#losses-clip1"/>');
    expect(scoped).toContain('xlink:href="#losses-gradient_0"');
    expect(scoped).toContain('href="#elsewhere"');
    expect(scoped).not.toMatch(/id="(gradient_0|clip1)"/);
  });

  it('returns an SVG without ids unchanged', () => {
    expect(scopeSvgIds('<svg><rect/></svg>', 'x')).toBe('<svg><rect/></svg>');
  });
});
