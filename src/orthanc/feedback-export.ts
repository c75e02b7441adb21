import type { OrthancClient } from './orthanc-client';
import { readTriageMetadata } from './triage-metadata';
import { mapWithLimit } from '../pipeline/classification/map-with-limit';

/**
 * One radiologist's verdict on the AI, as the worklist stored it (T3Feedback, written by orthanc-config/plugin/
 * t3_workflow.py) with what was judged: the model, λ_B and the divergence of the study's batches. What the AI said
 * is the record's own copy (taken when the radiologist judged), falling back to the study's current entries for
 * records written before the copy held them.
 */
export interface FeedbackEntryView {
  orthancStudyId: string;
  studyInstanceUid: string;
  user: string;
  /** ISO 8601 UTC, as stored. */
  at: string;
  verdict: 'agree' | 'disagree';
  /** The right finding, when the radiologist disagreed and named it; '' otherwise. */
  finding: string;
  priority: string;
  topFinding: string;
  /** The model bundle and its two models (name, version, SHA-256 prefix); '' when not recorded. */
  model: string;
  /** Mean λ_B of the study's batches; null when not recorded. */
  lambda: number | null;
  /** Mean JS divergence of the study's images; null when not recorded (one-model policy, older results). */
  divergence: number | null;
}

export interface FeedbackPageView {
  entries: FeedbackEntryView[];
  /** Where the next page starts; '' after the last study. */
  nextPageToken: string;
  studiesScanned: number;
}

/** Studies read per page: each costs one metadata request to Orthanc, so a page stays well under a second. */
const MAX_STUDIES_PER_PAGE = 500;

function num(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The entry of one study's expanded metadata; null when it has no readable verdict. */
function feedbackEntryOf(orthancStudyId: string, studyInstanceUid: string, meta: Record<string, string>): FeedbackEntryView | null {
  const text = readTriageMetadata(meta, 'feedback');
  if (!text) return null;
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    record = parsed as Record<string, unknown>;
  } catch {
    return null; // a damaged entry is skipped, as the worklist skips it
  }
  const verdict = record.verdict;
  if (verdict !== 'agree' && verdict !== 'disagree') return null;
  const ai = typeof record.ai === 'object' && record.ai !== null ? (record.ai as Record<string, unknown>) : {};
  const pick = (key: string, current: string | null): unknown => (ai[key] !== undefined && ai[key] !== null ? ai[key] : current);
  return {
    orthancStudyId,
    studyInstanceUid,
    user: str(record.user),
    at: str(record.at),
    verdict,
    finding: str(record.finding),
    priority: str(pick('priority', readTriageMetadata(meta, 'priority'))),
    topFinding: str(pick('topFinding', readTriageMetadata(meta, 'topFinding'))),
    model: str(pick('model', readTriageMetadata(meta, 'model'))),
    lambda: num(pick('lambda', readTriageMetadata(meta, 'lambda'))),
    divergence: num(pick('divergence', readTriageMetadata(meta, 'divergence'))),
  };
}

/**
 * One page of the export: up to `studies` studies in Orthanc's order from the offset `pageToken` (a decimal number,
 * '' for the start), each with a verdict giving one entry. Orthanc 1.10.1 cannot search by metadata, so every study
 * is looked at; the offset makes the export resumable and each page bounded.
 */
export async function exportFeedbackPage(client: OrthancClient, pageToken: string, studies: number): Promise<FeedbackPageView> {
  const since = pageToken === '' ? 0 : Number(pageToken);
  if (!Number.isSafeInteger(since) || since < 0) throw new RangeError(`page_token: not one this server gave ("${pageToken.slice(0, 40)}")`);
  const limit = Math.max(1, Math.min(studies, MAX_STUDIES_PER_PAGE));
  const page = await client.getJson<{ ID: string; MainDicomTags?: { StudyInstanceUID?: string } }[]>(`/studies?expand&since=${since}&limit=${limit}`);
  const found = await mapWithLimit(page, 8, async (study) => {
    try {
      const meta = await client.getJson<Record<string, string>>(`/studies/${encodeURIComponent(study.ID)}/metadata?expand`);
      return feedbackEntryOf(study.ID, study.MainDicomTags?.StudyInstanceUID ?? '', meta);
    } catch {
      return null; // deleted while the page was read
    }
  });
  return {
    entries: found.filter((e): e is FeedbackEntryView => e !== null),
    nextPageToken: page.length < limit ? '' : String(since + page.length),
    studiesScanned: page.length,
  };
}
