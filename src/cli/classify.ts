import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { parsePolicyName, T3InputError, type PolicyConfig, type PolicyName } from '../t3';
import { demoBundleDir, loadBundle, policyForBundle, T3Engine, type BundleManifest } from '../engine';
import { providersOption } from './providers-option';
import type { FramePolicy } from '../dicom';
import { classifyImages, type ClassifyInput, type ClassifyOutcome } from '../pipeline/classification/classify-images';
import { composeClassification, srInputFor } from '../pipeline/classification/compose-study-result';
import { sharedSrBuilder } from '../pipeline/results/sr-builder';
import type { StudyImageFailure, StudyImagePrediction } from '../pipeline/results/study-result';
import type { TriageConfig } from '../report';
import { defaultSidecarConfig, loadSidecarConfig } from '../config';

const HELP = `usage: orthanc-t3 classify [options] FILE...

Classifies DICOM files with a model bundle and prints one JSON line per file:
  {"file","ok","error"?,"predictions":[{"label","code","scheme","probability"}...],"js","lambda","batch_lambda",...}
Exit status 0 when every image file was classified (objects that hold no image, such as an SR, are skipped with
the reason and do not count as failures), 2 when some could not be classified (their lines say why), 1 on bad usage.

options:
  --bundle DIR         model bundle folder (default: the demo bundle shipped in bundles/demo-trained)
  --policy NAME        generalist | expert | wise | ensemble | dawin | t3 | t3b (default t3b)
  --batch-size N       images per T3B batch, in the order given (default 32)
  --frames P           multi-frame policy: first | middle | all | a 0-based index (default middle); the output's
                       "frame" is the 1-based DICOM frame number, "frame_index" the 0-based index --frames takes
  --wise-alpha A       α of the wise policy (default 0.5)
  --dawin-offset       use DaWin's offset-adjusted coefficient for the dawin policy
  --providers LIST     execution providers to try in order, e.g. cuda,webgpu,cpu (default)
  --sr-out DIR         also write one AI-result SR per study of the inputs into DIR (<StudyInstanceUID>.dcm) and
                       print one {"study","sr","priority",...} line per study
  --config FILE        take the triage rules for --sr-out and inference.maxDecodedImageBytes from this T3
                       configuration (default: built-in rules, 256 MiB)
`;

function parseFramePolicy(text: string): FramePolicy {
  if (text === 'first' || text === 'middle' || text === 'all') return text;
  const n = Number(text);
  if (Number.isInteger(n) && n >= 0) return n;
  throw new UsageError(`--frames must be first, middle, all or a 0-based frame index, got "${text}"`);
}

/**
 * The JSON line printed for one file, from the composed result (the same one serve and gRPC report); keys are
 * snake_case like the golden file's outputs.
 */
export function outcomeLine(file: string, images: readonly StudyImagePrediction[], failure: StudyImageFailure | undefined, skipped: boolean): Record<string, unknown> {
  if (failure) return { file, ok: false, skipped, error_code: failure.code, error: failure.message };
  const frameLine = (image: StudyImagePrediction) => ({
    // 1-based frame of the object, as DICOM and the SR number them (a single-frame object's one frame is frame 1).
    frame: image.frameNumber || 1,
    // The same frame as --frames and T3.inference.framePolicy name it: a 0-based index.
    frame_index: (image.frameNumber || 1) - 1,
    predictions: image.predictions.map((p) => ({ label: p.label, code: p.code.value, scheme: p.code.scheme, probability: p.probability })),
    js: image.js,
    lambda: image.lambdaFinal,
    applied_lambda: image.appliedLambda,
    batch_lambda: image.batchLambda,
    batch_id: image.batchId,
  });
  const line: Record<string, unknown> = { file, ok: true, sop_instance_uid: images[0].sopInstanceUid, ...frameLine(images[0]) };
  if (images.length > 1) line.frames = images.map(frameLine);
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
    let policyName: PolicyName;
    try {
      policyName = parsePolicyName(optionString(args, 'policy') ?? 't3b');
    } catch (err) {
      if (err instanceof T3InputError) throw new UsageError(err.message);
      throw err;
    }
    const wiseAlpha = optionNumber(args, 'wise-alpha', (n) => n >= 0 && n <= 1, 'a number in [0, 1]');
    const dawinOffsetAdjusted = args.options.has('dawin-offset');
    const batchSize = optionNumber(args, 'batch-size', (n) => Number.isInteger(n) && n >= 1, 'a positive integer') ?? 32;
    const framePolicy = parseFramePolicy(optionString(args, 'frames') ?? 'middle');
    const executionProviders = providersOption(args);

    const srOut = optionString(args, 'sr-out');
    const configPath = optionString(args, 'config');
    const config = configPath ? loadSidecarConfig({ configPath }).config : defaultSidecarConfig();
    const triage = config.triage;

    const bundle = await loadBundle(optionString(args, 'bundle') ?? demoBundleDir());
    const policy = policyForBundle(bundle, policyName, { wiseAlpha, dawinOffsetAdjusted });
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
      const classified = await classifyImages(engine, inputs,
        { policy, batchSize, framePolicy, maxDecodedImageBytes: config.inference.maxDecodedImageBytes });
      const byName = new Map<string, ClassifyOutcome>();
      for (const o of [...classified, ...unreadable]) byName.set(o.name, o);
      const outcomes = args.positionals.map((file) => byName.get(file)!);
      const composed = composeClassification(outcomes, { triage, listNonImages: true });
      let failures = 0;
      let skipped = 0;
      args.positionals.forEach((file, index) => {
        const outcome = outcomes[index];
        if (!outcome.ok) {
          if (outcome.skipped) skipped++;
          else failures++;
        }
        const line = outcomeLine(file, composed.images.filter((i) => i.index === index), composed.failures.find((f) => f.index === index), !outcome.ok && outcome.skipped);
        io.stdout.write(JSON.stringify(line) + '\n');
      });
      if (srOut !== undefined) failures += await writeStudySrs(classified, bundle.manifest, policy, batchSize, triage, srOut, io);
      io.stderr.write(
        `classified ${args.positionals.length - failures - skipped} of ${args.positionals.length} file(s), skipped ${skipped} without an image, ` +
          `failed ${failures}, with ${bundle.manifest.name} ` +
          `(${policy.name}, batch ${batchSize}, ${engine.executionProvider})` +
          // The same words serve, the worklist and the SR use: no one mistakes these findings for a clinical model's.
          `${bundle.manifest.demonstration ? ': a demonstration model, its findings mean nothing for patients' : ''}\n`,
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
  manifest: BundleManifest,
  policy: PolicyConfig,
  batchSize: number,
  triage: TriageConfig,
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
      const input = srInputFor(composeClassification(members, { triage, listNonImages: false }), manifest, policy, batchSize);
      const decision = input.triage;
      const sr = await sharedSrBuilder().build(input);
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
