/**
 * Prefixes every `id` of an SVG document and the references to it (`url(#…)`, `href="#…"`) so
 * several charts can be inlined in one HTML page without their gradients or clip paths (vega
 * numbers them from 0 in every chart) resolving to another chart's.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const match of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(match[1]!);
  if (ids.size === 0) return svg;
  const scoped = (id: string): string => (ids.has(id) ? `${prefix}-${id}` : id);
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, head: string, id: string) => `${head}${scoped(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${scoped(id)})`)
    .replace(/((?:xlink:)?href=")#([^"]+)"/g, (_, head: string, id: string) => `${head}#${scoped(id)}"`);
}
