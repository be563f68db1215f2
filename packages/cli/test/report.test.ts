import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDistillationError } from '@kd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../src/report';
import { type SyntheticRun, writeSyntheticRun } from './reportFixture';
import { expectedCalibration, legendLabels, markPaths, titleTexts } from './reportSvg';

const folders: string[] = [];
function run(options: Parameters<typeof writeSyntheticRun>[0] = {}): SyntheticRun {
  const made = writeSyntheticRun(options);
  folders.push(made.directory);
  return made;
}
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const read = (path: string): string => readFileSync(path, 'utf8');
const argmax = (row: readonly number[]): number => row.indexOf(Math.max(...row));

async function badRun(directory: string): Promise<Error> {
  try {
    await writeReport(directory);
  } catch (error) {
    expect(isDistillationError(error, 'bad-run')).toBe(true);
    return error as Error;
  }
  throw new Error('expected a bad-run error');
}

describe('writeReport', () => {
  it('writes report.html and an SVG per chart whose marks are the run series', async () => {
    const synthetic = run();
    const files = await writeReport(synthetic.directory);
    const folder = join(synthetic.directory, 'report');
    expect(files.directory).toBe(folder);
    expect(files.html).toBe(join(folder, 'report.html'));
    expect(files.omitted).toEqual([]);
    const names = ['losses', 'accuracy', 'class-correlation', 'reliability', 'agreement'];
    expect(files.charts.map((c) => c.name)).toEqual(names);
    for (const name of names) expect(existsSync(join(folder, `${name}.svg`))).toBe(true);

    // Losses: one line per term plus the total, each a legend entry.
    const losses = read(join(folder, 'losses.svg'));
    expect(markPaths(losses, 'line')).toHaveLength(synthetic.terms.length + 1);
    expect(legendLabels(losses)).toEqual(['total', ...synthetic.terms]);
    // Accuracy: the validation accuracy line and the validation loss line.
    expect(markPaths(read(join(folder, 'accuracy.svg')), 'line')).toHaveLength(2);

    // Class correlation: a cell per class pair, mean |difference| in the title.
    const correlation = read(join(folder, 'class-correlation.svg'));
    expect(markPaths(correlation, 'rect')).toHaveLength(synthetic.classes * synthetic.classes);
    expect(titleTexts(correlation)[0]).toMatch(/^Teacher − student class correlation \(mean \|Δ\| = 0\.\d{4}\)$/);

    // Reliability: a bar per non-empty bin of each model, ECE from the definition in each title.
    const reliability = read(join(folder, 'reliability.svg'));
    const student = expectedCalibration(synthetic.student, synthetic.labels);
    const teacher = expectedCalibration(synthetic.teacher!, synthetic.labels);
    expect(markPaths(reliability, 'rect')).toHaveLength(student.bins + teacher.bins);
    const titles = titleTexts(reliability);
    expect(titles).toContain(`student: ECE ${(student.ece * 100).toFixed(2)} %`);
    expect(titles).toContain(`teacher: ECE ${(teacher.ece * 100).toFixed(2)} %`);

    // Agreement: a bar per class, the overall rate (top-1 matches) in the title.
    const agreement = read(join(folder, 'agreement.svg'));
    expect(markPaths(agreement, 'rect')).toHaveLength(synthetic.classes);
    const agreeing = synthetic.student.filter((row, i) => argmax(row) === argmax(synthetic.teacher![i]!)).length;
    expect(titleTexts(agreement)[0]).toBe(
      `Teacher-student top-1 agreement: ${((agreeing / synthetic.examples) * 100).toFixed(2)} % overall`,
    );

    // The page: the header, the final table, the exports, every SVG inlined and linked.
    const html = read(files.html);
    expect(html).toContain(`Run ${synthetic.directory.split('/').pop()}`);
    expect(html).toContain('<dd>cpu</dd>');
    expect(html).toContain('<dd>1 min 15.5 s</dd>');
    for (const row of [
      'student test accuracy',
      'teacher test loss',
      'best epoch',
      'student ECE (15 bins)',
      'teacher-student top-1 agreement',
    ]) {
      expect(html).toContain(`<th scope="row">${row}</th>`);
    }
    expect(html).toContain(`${(student.ece * 100).toFixed(2)} %`);
    expect(html).toContain('<td>float32</td><td class="value">392.6 KiB</td><td class="value">81.00 %</td><td class="value">1.25 ms</td>');
    expect(html).toContain(
      '<td>uint8</td><td class="value">98.6 KiB</td><td class="value">80.50 %</td><td class="value">not measured</td>',
    );
    expect(html.match(/<svg /g)).toHaveLength(names.length);
    for (const name of names) expect(html).toContain(`<a href="${name}.svg">`);
    expect(html).not.toContain('Left out');
  });

  it('leaves out the class-correlation and agreement charts without a teacher, says why, and removes stale SVGs', async () => {
    const synthetic = run();
    await writeReport(synthetic.directory);
    const folder = join(synthetic.directory, 'report');
    expect(existsSync(join(folder, 'agreement.svg'))).toBe(true);
    // The same folder, now without a teacher: the old charts must not linger.
    const predictions = JSON.parse(read(join(synthetic.directory, 'predictions.json')));
    delete predictions.teacher;
    writeFileSync(join(synthetic.directory, 'predictions.json'), JSON.stringify(predictions));
    const files = await writeReport(synthetic.directory);
    expect(files.charts.map((c) => c.name)).toEqual(['losses', 'accuracy', 'reliability']);
    expect(files.omitted.map((o) => o.name)).toEqual(['class-correlation', 'agreement']);
    expect(existsSync(join(folder, 'class-correlation.svg'))).toBe(false);
    expect(existsSync(join(folder, 'agreement.svg'))).toBe(false);
    const html = read(files.html);
    expect(html).toContain(
      'Chart <code>class-correlation.svg</code> left out: predictions.json has no teacher logits (the run had no teacher).',
    );
    expect(html).toContain('Chart <code>agreement.svg</code> left out: predictions.json has no teacher logits');
    expect(html).not.toContain('<th scope="row">teacher-student top-1 agreement</th>');
    expect(html).not.toContain('<th scope="row">teacher ECE (15 bins)</th>');
    // The student alone in the reliability diagram.
    const reliability = read(join(folder, 'reliability.svg'));
    expect(titleTexts(reliability).filter((t) => t.includes(': ECE'))).toEqual([
      `student: ECE ${(expectedCalibration(synthetic.student, synthetic.labels).ece * 100).toFixed(2)} %`,
    ]);
    expect(html.match(/<svg /g)).toHaveLength(3);
  });

  it('reports a run without a teacher from the start (summary without teacher)', async () => {
    const synthetic = run({ teacher: false });
    const files = await writeReport(synthetic.directory);
    expect(files.omitted.map((o) => o.name)).toEqual(['class-correlation', 'agreement']);
    const html = read(files.html);
    expect(html).toContain('No teacher metrics: summary.json has no teacher');
    expect(legendLabels(read(join(files.directory, 'losses.svg')))).toEqual(['total', 'ce', 'l2']);
  });

  it('reads a summary evaluated on the validation split, with unmeasured metrics, a config name and early stopping', async () => {
    const synthetic = run();
    const summary = join(synthetic.directory, 'summary.json');
    writeFileSync(
      summary,
      JSON.stringify({
        name: 'kd-digits',
        backend: 'wasm (SIMD, 4 threads)',
        wallSeconds: 4000,
        evaluatedOn: 'validation',
        student: { accuracy: null, loss: null }, // NaN written by JSON.stringify
        teacher: { accuracy: 0.9, loss: 0.3 },
        stoppedEarly: { stage: 'train', epoch: 2 },
        exports: [{ form: 'float16', bytes: 2048, accuracy: null }],
      }),
    );
    const html = read((await writeReport(synthetic.directory)).html);
    expect(html).toContain('<h1>Run kd-digits</h1>');
    expect(html).toContain('<dd>wasm (SIMD, 4 threads)</dd><dt>wall time</dt><dd>1 h 6 min</dd>');
    expect(html).not.toContain('<dt>stages</dt>'); // a single stage is not worth a header entry
    expect(html).toContain('<th scope="row">teacher validation accuracy</th><td class="value">90.00 %</td>');
    expect(html).not.toContain('<th scope="row">student validation accuracy</th>');
    expect(html).toContain('No student validation accuracy or loss');
    expect(html).toContain('<th scope="row">stopped early</th><td class="value">stage train, epoch 2</td>');
    expect(html).toContain('<th>validation accuracy</th>');
    expect(html).toContain('<td>float16</td><td class="value">2.0 KiB</td><td class="value">not measured</td>');
    expect(html).toContain('No best epoch');
    expect(read(join(synthetic.directory, 'report', 'accuracy.svg'))).toContain('teacher (validation)');
  });

  it('leaves out what missing files would have shown, and says which file is missing', async () => {
    const synthetic = run();
    unlinkSync(join(synthetic.directory, 'logs.jsonl'));
    unlinkSync(join(synthetic.directory, 'summary.json'));
    const files = await writeReport(synthetic.directory);
    expect(files.charts.map((c) => c.name)).toEqual(['class-correlation', 'reliability', 'agreement']);
    expect(files.omitted).toEqual([
      { name: 'losses', reason: 'logs.jsonl is missing.' },
      { name: 'accuracy', reason: 'logs.jsonl is missing.' },
    ]);
    const html = read(files.html);
    expect(html).toContain('summary.json is missing');
    expect(html).not.toContain('<dd>cpu</dd>');
    expect(html).not.toContain('<h2>Exports</h2>');

    const onlyLogs = run();
    unlinkSync(join(onlyLogs.directory, 'predictions.json'));
    const logsOnly = await writeReport(onlyLogs.directory);
    expect(logsOnly.charts.map((c) => c.name)).toEqual(['losses', 'accuracy']);
    expect(read(logsOnly.html)).toContain('Chart <code>reliability.svg</code> left out: predictions.json is missing.');
  });

  it('is bad-run naming the file and line of a malformed logs line', async () => {
    const synthetic = run();
    const logs = join(synthetic.directory, 'logs.jsonl');
    const lines = read(logs).trimEnd().split('\n');
    lines.splice(3, 0, '{"type": "epoch-end", "epoch": 7, "logs": ');
    writeFileSync(logs, lines.join('\n'));
    const error = await badRun(synthetic.directory);
    expect(error.message).toContain(`${logs} line 4 is not valid JSON`);
    expect(existsSync(join(synthetic.directory, 'report', 'report.html'))).toBe(false);

    lines[3] = JSON.stringify({ type: 'epoch-end', epoch: 7, epochs: 8, logs: { loss: 1, terms: { ce: 'low' } } });
    writeFileSync(logs, lines.join('\n'));
    expect((await badRun(synthetic.directory)).message).toContain(`${logs} line 4: logs.terms.ce`);
  });

  it('is bad-run for a malformed predictions file and for a folder that is not a run', async () => {
    const synthetic = run();
    const predictions = join(synthetic.directory, 'predictions.json');
    const value = JSON.parse(read(predictions));
    value.student[5] = value.student[5].slice(1);
    writeFileSync(predictions, JSON.stringify(value));
    expect((await badRun(synthetic.directory)).message).toContain(`${predictions}: student[5] has 9 logits, expected 10`);

    const empty = mkdtempSync(join(tmpdir(), 'kd-report-empty-'));
    folders.push(empty);
    expect((await badRun(empty)).message).toContain('is not a run folder: it has none of logs.jsonl, predictions.json, summary.json');
    expect((await badRun(join(empty, 'nothing-here'))).message).toContain('does not exist or is not a folder');
  });
});
