import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { coefficientsCommand } from '../../src/cli/coefficients';
import { FLOAT64_TOLERANCE, loadGoldenCases, maxAbsDiff } from './golden-cases';

interface Run { code: number; stdout: string; stderr: string }

async function run(argv: string[], stdinText?: string): Promise<Run> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += String(c)));
  stderr.on('data', (c) => (err += String(c)));
  if (stdinText !== undefined) stdin.end(stdinText);
  else stdin.end();
  const code = await coefficientsCommand.run(argv, { stdin, stdout, stderr });
  return { code, stdout: out, stderr: err };
}

const cases = loadGoldenCases();
const OUTPUT_KEYS = ['entropy_pt', 'entropy_ft', 'js', 'lambda', 'extrapolation_triggered', 'lambda_final', 'batch_lambda', 'dawin_coef', 'dawin_coef_offset'];

function expectMatchesGolden(printed: Record<string, unknown>, name: string): void {
  const golden = cases.find((c) => c.name === name)!.outputs as unknown as Record<string, unknown>;
  expect(Object.keys(printed).sort()).toEqual([...OUTPUT_KEYS].sort());
  for (const key of OUTPUT_KEYS) {
    if (key === 'extrapolation_triggered') expect(printed[key]).toEqual(golden[key]);
    else if (key === 'batch_lambda') expect(Math.abs((printed[key] as number) - (golden[key] as number))).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    else expect(maxAbsDiff(printed[key] as (number | null)[], golden[key] as (number | null)[])).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
  }
}

describe('orthanc-t3 coefficients', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 't3-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('reads a golden case from stdin and prints its outputs (nulls included)', async () => {
    const c = cases.find((x) => x.name === 'onehot_disagreement')!;
    const r = await run([], JSON.stringify(c));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed.dawin_coef_offset).toEqual([null, null]);
    expectMatchesGolden(printed, c.name);
  });

  test('reads a case file with --input, with custom hyperparameters', async () => {
    const c = cases.find((x) => x.name === 'extrapolation_hypothesis_2')!;
    const file = path.join(dir, 'case.json');
    writeFileSync(file, JSON.stringify({ inputs: c.inputs, hyperparameters: c.hyperparameters }));
    const r = await run(['--input', file]);
    expect(r.code).toBe(0);
    expectMatchesGolden(JSON.parse(r.stdout), c.name);
  });

  test('missing hyperparameters take the defaults (the paper\'s map, guard off)', async () => {
    const c = cases.find((x) => x.name === 'random_2_b4_c3')!;
    const r = await run([], JSON.stringify({ inputs: c.inputs, hyperparameters: { gamma: 0.5 } }));
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { js: number[]; lambda: number[] };
    expect(maxAbsDiff(printed.js, c.outputs.js)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    const noHp = await run([], JSON.stringify({ inputs: c.inputs }));
    expect(JSON.parse(noHp.stdout)).toEqual(printed);
  });

  test.each([
    ['malformed JSON', '{"inputs": [', /not valid JSON/],
    ['no inputs', '{"hyperparameters": {}}', /"inputs" must be an object/],
    ['a row that is not an array', '{"inputs": {"pt_logits": [1, 2], "ft_logits": [[1, 2]]}}', /inputs\.pt_logits\[0\] must be an array/],
    ['a string logit', '{"inputs": {"pt_logits": [["a", 2]], "ft_logits": [[1, 2]]}}', /inputs\.pt_logits\[0\]\[0\] must be a number/],
    ['shape mismatch', '{"inputs": {"pt_logits": [[1, 2]], "ft_logits": [[1, 2, 3]]}}', /expert row 0 has 3 classes, expected 2/],
    ['empty batch', '{"inputs": {"pt_logits": [], "ft_logits": []}}', /empty batch/],
    ['bad temperature', '{"inputs": {"pt_logits": [[1, 2]], "ft_logits": [[1, 2]]}, "hyperparameters": {"t_pt": 0}}', /tPt must be a positive/],
    ['unknown hyperparameter', '{"inputs": {"pt_logits": [[1, 2]], "ft_logits": [[1, 2]]}, "hyperparameters": {"gama": 1}}', /unknown hyperparameter "gama"/],
  ])('%s: exit 1 with a message', async (_what, text, message) => {
    const r = await run([], text);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  test('a missing --input file is reported', async () => {
    const r = await run(['--input', path.join(dir, 'absent.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read .*absent\.json/);
  });

  test('--help prints usage', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: orthanc-t3 coefficients/);
    expect(coefficientsCommand.name).toBe('coefficients');
  });
});
