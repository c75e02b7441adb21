import { nonImageKind } from '../dicom/sop-classes';
import type { FramePolicy } from '../dicom';
import { CategorizedError, errorCategory, type ErrorCategory } from '../errors';
import { isPermanentImageFailure } from './jobs/retry-policy';
import type { TriageConfig } from '../report';
import type { ClassifyInput } from './classification/classify-images';
import type { FixedPassInput } from './classification/classify-fixed-passes';
import { composeClassification, type ComposedClassification } from './classification/compose-study-result';
import type { FixedPassEntry } from './classification/fixed-pass-cache';
import type { LoadedModel } from './registry/model-registry';
import { chooseBundle, type RouteTable } from './routing/routing';
import { mapWithLimit } from './classification/map-with-limit';
import type { Semaphore } from './jobs/semaphore';
import { StudyNotFoundError, type PixelSourceName, type StudyInstance, type StudySnapshot, type StudyStore } from './jobs/study-store';
import type { RunPriority, StudyImageFailure } from './results/study-result';

/**
 * A study that fails because of its images fails for good when every one of them would fail the same way again (bad
 * pixel data, an unsupported syntax): 'invalid-argument', not retried. One failure that may pass (a fetch, a codec
 * timeout, the engine) makes the whole failure worth retrying.
 */
function failureCategory(failures: readonly StudyImageFailure[]): ErrorCategory {
  return failures.length > 0 && failures.every((f) => isPermanentImageFailure(f.code)) ? 'invalid-argument' : 'internal';
}

/** Which bundle analyses a study, its images for that bundle, and the images no configured bundle takes. */
export interface RoutedStudy {
  bundle: string | null;
  images: StudyInstance[];
  unrouted: StudyInstance[];
}

/**
 * Routes a study's image objects (SR, KOS, PR… are not images and are left out). One SR per study: the bundle most
 * of the study's images route to analyses them; the images routed elsewhere are reported as unrouted.
 */
export function routeStudy(snapshot: StudySnapshot, routing: RouteTable, isLoaded: (bundle: string) => boolean): RoutedStudy {
  const images = snapshot.instances.filter((i) => nonImageKind(i.sopClassUid) === undefined);
  const byBundle = new Map<string, StudyInstance[]>();
  const unrouted: StudyInstance[] = [];
  for (const inst of images) {
    const name = chooseBundle(routing, {
      modality: inst.modality,
      sopClassUid: inst.sopClassUid,
      bodyPartExamined: inst.bodyPartExamined,
      studyDescription: snapshot.studyDescription,
      seriesDescription: inst.seriesDescription,
      callingAet: inst.callingAet,
    });
    if (name === null || !isLoaded(name)) unrouted.push(inst);
    else byBundle.set(name, [...(byBundle.get(name) ?? []), inst]);
  }
  let best: string | null = null;
  for (const [name, list] of byBundle) if (best === null || list.length > byBundle.get(best)!.length) best = name;
  for (const [name, list] of byBundle) if (name !== best) unrouted.push(...list);
  return { bundle: best, images: best ? byBundle.get(best)! : [], unrouted };
}

/** Why a study with nothing to analyse is skipped (recorded in its state; no SR, no retry). */
export function skipReason(snapshot: StudySnapshot, routed: RoutedStudy): string {
  return routed.unrouted.length === 0
    ? `the study has no image objects (${snapshot.instances.length} non-image instance(s))`
    : `no configured bundle takes the study's ${routed.unrouted.length} image(s)`;
}

/** The position of each instance in the study's (sorted) instance list: the index results report. */
export function instancePositions(snapshot: StudySnapshot): Map<string, number> {
  return new Map(snapshot.instances.map((inst, i) => [inst.orthancInstanceId, i]));
}

export function unroutedFailures(routed: RoutedStudy, positions: ReadonlyMap<string, number>): StudyImageFailure[] {
  return routed.unrouted.map((inst) => ({
    index: positions.get(inst.orthancInstanceId)!,
    name: inst.orthancInstanceId,
    code: 'no-route',
    message: `no configured bundle takes ${inst.modality || 'this'} images of series "${inst.seriesDescription}"`,
  }));
}

export interface StudyClassificationContext {
  store: StudyStore;
  /** Bounds how many studies load at once (memory). */
  loading: Semaphore;
  model: LoadedModel;
  pixelSource: PixelSourceName;
  framePolicy: FramePolicy;
  triage: TriageConfig;
  onBadImage: 'skip' | 'fail-study';
  /** inference.maxDecodedImageBytes: bounds what fetching from Orthanc's decoder may allocate (absent: the default). */
  maxDecodedImageBytes?: number;
  /** Fixed passes speculation already ran for an instance, if any. */
  cachedFixedPasses(inst: StudyInstance): FixedPassEntry | undefined;
}

export interface StudyClassification {
  composed: ComposedClassification;
  loadMs: number;
  inferMs: number;
}

/**
 * Instance fetches in flight per loading study. A few keep Orthanc's file reads streaming; hundreds at once (a CT)
 * filled Orthanc's HTTP threads, so the change-feed poll and a small study's requests waited seconds behind them and
 * some fetches were reset (issue 21, item 5). With 4, a one-image study sent behind the 200-image study of
 * `bench --head-of-line` was flagged 1.08× as late as alone (p95, README "Scale and deployment").
 */
const FETCHES_PER_STUDY = 4;

/**
 * Loads a routed study's images and classifies them through the model's T3B batcher, then composes the result.
 * Loading takes a slot (a few studies at a time, and only when the batcher has room: memory stays bounded); the
 * inference wait does not, so the next study loads while this one is inferred. A missing instance (deleted
 * meanwhile) is left out; an unreadable one is a failed image; Orthanc being unavailable fails the whole attempt
 * (it is retried). Throws when no image could be classified, or when any could not and `onBadImage` is fail-study.
 */
export async function classifyStudy(
  snapshot: StudySnapshot,
  routed: RoutedStudy,
  runPriority: RunPriority,
  ctx: StudyClassificationContext,
): Promise<StudyClassification> {
  const positions = instancePositions(snapshot);
  const failures = unroutedFailures(routed, positions);
  const tLoad = Date.now();
  let loadMs = 0;
  const { order, pending } = await ctx.loading.use(async () => {
    await ctx.model.batcher.waitForRoom(routed.images.length);
    const loaded: { input: ClassifyInput; inst: StudyInstance }[] = [];
    await mapWithLimit(routed.images, FETCHES_PER_STUDY, async (inst) => {
      const cached = ctx.cachedFixedPasses(inst);
      if (cached) {
        // Speculation already ran both fixed passes: no fetch, no decode.
        const input: FixedPassInput = { name: inst.orthancInstanceId, bytes: new Uint8Array(0), cached };
        loaded.push({ input, inst });
        return;
      }
      try {
        const bytes = await ctx.store.fetchInstance(inst.orthancInstanceId, ctx.pixelSource, ctx.framePolicy, ctx.maxDecodedImageBytes);
        loaded.push({ input: { name: inst.orthancInstanceId, bytes }, inst });
      } catch (err) {
        if (err instanceof StudyNotFoundError) return;
        if (errorCategory(err) === 'unavailable') throw err;
        failures.push({ index: positions.get(inst.orthancInstanceId)!, name: inst.orthancInstanceId, code: 'fetch-failed', message: err instanceof Error ? err.message : String(err) });
      }
    });
    // Deterministic order: by position in the study.
    loaded.sort((a, b) => positions.get(a.inst.orthancInstanceId)! - positions.get(b.inst.orthancInstanceId)!);
    loadMs = Date.now() - tLoad;
    return { order: loaded, pending: ctx.model.batcher.submit(runPriority, loaded.map((o) => o.input), { bypassBound: true }) };
  });
  const tInfer = Date.now();
  const outcomes = await pending;
  const inferMs = Date.now() - tInfer;
  const composed = composeClassification(outcomes, {
    triage: ctx.triage,
    positionOf: (i) => positions.get(order[i].inst.orthancInstanceId)!,
    listNonImages: false,
    priorFailures: failures,
  });
  if (composed.images.length === 0) {
    const listed = composed.failures.map((f) => `${f.name} ${f.code}`).join('; ');
    throw new CategorizedError(failureCategory(composed.failures), `no image of the study could be classified${listed ? ': ' + listed : ''}`);
  }
  const bad = composed.failures.filter((f) => f.code !== 'no-route');
  if (ctx.onBadImage === 'fail-study' && bad.length > 0) {
    throw new CategorizedError(failureCategory(bad),
      `study has ${bad.length} unusable image(s): ${bad.map((f) => `${f.name} ${f.code}: ${f.message}`).join('; ')}`);
  }
  return { composed, loadMs, inferMs };
}
