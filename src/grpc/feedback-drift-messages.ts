import type { DriftView, FeedbackPageView } from './backend';
import type { ExportFeedbackResponse } from './generated/t3/v1/ExportFeedbackResponse';
import type { GetDriftResponse } from './generated/t3/v1/GetDriftResponse';

/**
 * ExportFeedback's and GetDrift's views as proto/t3/v1/admin.proto messages (proto-loader's camelCase shapes). Kept
 * apart from proto-messages.ts, which maps the study results: these two come from the Orthanc side, not the pipeline.
 */
export function feedbackPageMessage(page: FeedbackPageView): ExportFeedbackResponse {
  return {
    entries: page.entries.map((e) => ({
      orthancStudyId: e.orthancStudyId,
      studyInstanceUid: e.studyInstanceUid,
      user: e.user,
      at: e.at,
      verdict: e.verdict,
      finding: e.finding,
      priority: e.priority,
      topFinding: e.topFinding,
      model: e.model,
      // proto3 optional: left out when not recorded, so a client tells "unknown" from 0.
      ...(e.lambda !== null ? { lambdaB: e.lambda } : {}),
      ...(e.divergence !== null ? { divergence: e.divergence } : {}),
    })),
    nextPageToken: page.nextPageToken,
    studiesScanned: page.studiesScanned,
  };
}

export function driftMessage(view: DriftView): GetDriftResponse {
  return {
    sources: view.sources.map((s) => ({
      label: s.label,
      stationName: s.stationName,
      manufacturer: s.manufacturer,
      manufacturerModelName: s.modelName,
      institutionName: s.institution,
      points: s.points.map((p) => ({ atUnixMs: p.at, meanJs: p.meanJs })),
      studies: s.studies,
      judged: s.judged !== null,
      baselineMean: s.judged?.baselineMean ?? 0,
      baselineSd: s.judged?.baselineSd ?? 0,
      recentMean: s.judged?.recentMean ?? 0,
      z: s.judged?.z ?? 0,
      warning: s.warning,
      reason: s.reason,
    })),
    recentStudies: view.rule.recentStudies,
    baselineStudies: view.rule.baselineStudies,
    minBaselineStudies: view.rule.minBaselineStudies,
    minSd: view.rule.minSd,
    zWarning: view.rule.zWarning,
  };
}
