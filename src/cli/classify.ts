import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { parsePolicyName, defaultPolicyConfig, T3InputError, type PolicyConfig } from '../t3';
import { demoBundleDir, loadBundle, T3Engine } from '../engine';
import { providersOption } from './providers-option';
import type { FramePolicy } from '../dicom';
import { classifyImages, type ClassifyInput, type ClassifyOutcome } from '../pipeline/classify-images';
import { buildStudySr } from '../pipeline/study-report';
import { defaultSidecarConfig, loadSidecarConfig } from '../config';
import type { T3Engine as Engine } from '../engine';

const HELP = `usage: orthanc-t3 classify [options] FILE...

Classifies DICOM files with a model bundle and prints one JSON line per file:
  {"file","ok","error"?,"predictions":[{"label","code","scheme","probability"}...],"js","lambda","batch_lambda",...}
Exit status 0 when every image file was classified (objects that hold no image, such as an SR, are skipped with
the reason and do not count as failures), 2 when some could not be classified (their lines say why), 1 on bad usage.

options:
  --bundle DIR         model bundle folder (default: the demo bundle shipped in bundles/demo-trained)
  --policy NAME        generalist | expert | wise | ensemble | dawin | t3 | t3b (default t3b)
  --batch-size N       images per T3B batch, in the order given (default 32)
  --frames P           multi-frame policy: first | middle | all | a 0-based index (default middle)
  --wise-alpha A       α of the wise policy (default 0.5)
  --dawin-offset       use DaWin's offset-adjusted coefficient for the dawin policy
  --providers LIST     execution providers to try in order, e.g. cuda,webgpu,cpu (default)
  --sr-out DIR         also write one AI-result SR per study of the inputs into DIR (<StudyInstanceUID>.dcm) and
                       print one {"study","sr","priority",...} line per study
  --config FILE        take the triage rules for --sr-out from this T3 configuration (default: built-in rules)
`;

function parseFramePolicy(text: string): FramePolicy {
  if (text === 'first' || text === 'middle' || text === 'all') return text;
  const n = Number(text);
  if (Number.isInteger(n) && n >= 0) return n;
  throw new UsageError(`--frames must be first, middle, all or a 0-based frame index, got "${text}"`);
}

/** The JSON line printed for one file; keys are snake_case like the golden file's outputs. */
export function outcomeLine(outcome: ClassifyOutcome): Record<string, unknown> {
  if (!outcome.ok) {
    return { file: outcome.name, ok: false, skipped: outcome.skipped, error_code: outcome.errorCode, error: outcome.error };
  }
  const first = outcome.frames[0];
  const frameLine = (f: typeof first) => ({
    frame: f.frameNumber,
    predictions: f.predictions.map((p) => ({ label: p.label, code: p.code.value, scheme: p.code.scheme, probability: p.probability })),
    js: f.js,
    lambda: f.lambdaFinal,
    applied_lambda: f.appliedLambda,
    batch_lambda: f.batchLambda,
    batch_id: f.batchId,
  });
  const line: Record<string, unknown> = {
    file: outcome.name,
    ok: true,
    sop_instance_uid: outcome.info.sopInstanceUid,
    ...frameLine(first),
  };
  if (outcome.frames.length > 1) line.frames = outcome.frames.map(frameLine);
  return line;
}

export const classifyCommand: CliCommand = {
  name: 'classify',
  summary: 'classify DICOM files',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, {
      values: ['bundle', 'policy', 'batch-size', 'frames', 'wise-alpha', 'providers', 'sr-out', 'config'],
      flags: ['help', 'dawin-offset'],
    });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length === 0) throw new UsageError('no input files (orthanc-t3 classify --help)');
    let policy: PolicyConfig;
    try {
      policy = defaultPolicyConfig(parsePolicyName(optionString(args, 'policy') ?? 't3b'));
    } catch (err) {
      if (err instanceof T3InputError) throw new UsageError(err.message);
      throw err;
    }
    const alpha = optionNumber(args, 'wise-alpha', (n) => n >= 0 && n <= 1, 'a number in [0, 1]');
    if (alpha !== undefined) policy.wiseAlpha = alpha;
    if (args.options.has('dawin-offset')) policy.dawinOffsetAdjusted = true;
    const batchSize = optionNumber(args, 'batch-size', (n) => Number.isInteger(n) && n >= 1, 'a positive integer') ?? 32;
    const framePolicy = parseFramePolicy(optionString(args, 'frames') ?? 'middle');
    const executionProviders = providersOption(args);

    const srOut = optionString(args, 'sr-out');
    const configPath = optionString(args, 'config');
    const triage = configPath ? loadSidecarConfig({ configPath }).config.triage : defaultSidecarConfig().triage;

    const bundle = await loadBundle(optionString(args, 'bundle') ?? demoBundleDir());
    // Bundle temperatures and T3 hyperparameters are the bundle's; the policy only chooses how to use them.
    policy.hyperparameters = { ...policy.hyperparameters, ...bundle.manifest.t3 };
    const engine = await T3Engine.open(bundle, { executionProviders });
    try {
      const inputs: ClassifyInput[] = [];
      const unreadable: ClassifyOutcome[] = [];
      for (const file of args.positionals) {
        try {
          inputs.push({ name: file, bytes: new Uint8Array(await readFile(file)) });
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
          unreadable.push({ name: file, ok: false, skipped: false, errorCode: 'unreadable', error: `${path.basename(file)}: ${reason}` });
        }
      }
      const outcomes = await classifyImages(engine, inputs, { policy, batchSize, framePolicy });
      const byName = new Map<string, ClassifyOutcome>();
      for (const o of [...outcomes, ...unreadable]) byName.set(o.name, o);
      let failures = 0;
      let skipped = 0;
      for (const file of args.positionals) {
        const outcome = byName.get(file)!;
        if (!outcome.ok) outcome.skipped ? skipped++ : failures++;
        io.stdout.write(JSON.stringify(outcomeLine(outcome)) + '\n');
      }
      if (srOut !== undefined) failures += await writeStudySrs(outcomes, engine, policy, batchSize, triage, srOut, io);
      io.stderr.write(
        `classified ${args.positionals.length - failures - skipped} of ${args.positionals.length} file(s), skipped ${skipped} without an image, ` +
          `failed ${failures}, with ${bundle.manifest.name} ` +
          `(${policy.name}, batch ${batchSize}, ${engine.executionProvider})\n`,
      );
      return failures === 0 ? ExitCode.ok : ExitCode.partialFailure;
    } finally {
      await engine.close();
    }
  },
};

/**
 * Writes one SR per study found among the classified inputs and prints one JSON line per study. Returns how many
 * studies failed (their line says why); the other studies' SRs are still written.
 */
async function writeStudySrs(
  outcomes: ClassifyOutcome[],
  engine: Engine,
  policy: PolicyConfig,
  batchSize: number,
  triage: ReturnType<typeof defaultSidecarConfig>['triage'],
  dir: string,
  io: CliIo,
): Promise<number> {
  await mkdir(dir, { recursive: true });
  const byStudy = new Map<string, ClassifyOutcome[]>();
  for (const o of outcomes) {
    if (!o.ok) continue;
    const list = byStudy.get(o.info.studyInstanceUid) ?? [];
    list.push(o);
    byStudy.set(o.info.studyInstanceUid, list);
  }
  let failures = 0;
  for (const [study, members] of byStudy) {
    try {
      const { triage: decision, sr } = await buildStudySr(members, engine, policy, { batchSize, triage });
      const file = path.join(dir, `${study}.dcm`);
      await writeFile(file, sr.bytes);
      io.stdout.write(
        JSON.stringify({
          study,
          sr: file,
          sop_instance_uid: sr.sopInstanceUid,
          files: members.map((m) => m.name),
          priority: decision.priority,
          fired_rule: decision.firedRule,
          needs_human_review: decision.needsHumanReview,
          review_reason: decision.reviewReason,
        }) + '\n',
      );
    } catch (err) {
      failures++;
      io.stdout.write(JSON.stringify({ study, ok: false, error: `SR not written: ${err instanceof Error ? err.message : String(err)}` }) + '\n');
    }
  }
  return failures;
}
