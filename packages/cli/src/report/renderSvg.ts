import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { CliError } from '../errors';

/** What {@link renderSvg} returns. */
export interface RenderedChart {
  /** The chart as a standalone SVG document. */
  readonly svg: string;
  /** What vega-lite and vega warned of while compiling and rendering (empty for a sound spec). */
  readonly warnings: readonly string[];
}

/** A vega logger that keeps warnings and turns errors into exceptions. */
function collectingLogger(warnings: string[]): vega.LoggerInterface {
  let level = vega.Warn;
  const logger: vega.LoggerInterface = {
    level(value?: number) {
      if (value === undefined) return level as never;
      level = value;
      return logger as never;
    },
    error(...args: readonly unknown[]) {
      throw new CliError('chart-failed', `vega: ${args.map(String).join(' ')}`);
    },
    warn(...args: readonly unknown[]) {
      warnings.push(args.map(String).join(' '));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

/**
 * Renders a vega-lite spec to SVG headless: vega-lite's `compile`, then a vega `View` with the
 * `'none'` renderer and `toSVG()` (no canvas, no browser; text widths are estimated).
 */
export async function renderSvg(spec: TopLevelSpec): Promise<RenderedChart> {
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const compiled = compile(spec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  try {
    return { svg: await view.toSVG(), warnings };
  } finally {
    view.finalize();
  }
}
