/** The categorical colours of the report's charts (Tableau 10). */
export const CATEGORY_COLOURS = [
  '#4c78a8',
  '#f58518',
  '#e45756',
  '#72b7b2',
  '#54a24b',
  '#eeca3b',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
] as const;

/** The `$schema` every chart spec declares. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Plot width of a single chart, in pixels. */
export const CHART_WIDTH = 480;

/** Plot height of a single chart, in pixels. */
export const CHART_HEIGHT = 260;

/** The name of class `index`: its entry of `classNames`, else the index. */
export function className(index: number, classNames?: readonly string[]): string {
  return classNames?.[index] ?? String(index);
}
