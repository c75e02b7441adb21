/**
 * Where the sidecar keeps triage state in Orthanc 1.10.1 (no labels there): study metadata at fixed numeric indexes,
 * which work on any Orthanc; orthanc-config/orthanc.json declares the same indexes as names (UserMetadata) so the
 * REST API and Orthanc Explorer show them as T3Status, T3Priority, … Reading accepts either form.
 */
export const TRIAGE_METADATA = {
  status: { name: 'T3Status', index: 4701 },
  priority: { name: 'T3Priority', index: 4702 },
  // What a radiologist reads first, next to the priority: "no" or "yes: <reason>", and "<label> <probability>%".
  review: { name: 'T3Review', index: 4710 },
  topFinding: { name: 'T3TopFinding', index: 4711 },
  /** The three most probable findings over the study's images, "; "-separated (the worklist shows them). */
  findings: { name: 'T3Findings', index: 4712 },
  /** "true" when the result comes from a demonstration model (bundle.json `demonstration`); absent otherwise. */
  demonstration: { name: 'T3Demo', index: 4713 },
  /** When the study's result was recorded (ISO 8601, UTC). */
  finishedAt: { name: 'T3Finished', index: 4714 },
  /**
   * Why the study's SR could not be written although it was classified (its priority, review flag and findings are
   * recorded already); absent once an SR of the study's current result is stored. The worklist and the Explorer badge
   * show it as "report failed" beside the priority, which stays in force.
   */
  reportError: { name: 'T3ReportError', index: 4715 },
  /** Why the study has its priority, in a radiologist's words (decideTriage's priorityReason); absent when routine. */
  priorityReason: { name: 'T3PriorityReason', index: 4716 },
  /**
   * Written by the Orthanc plugin, never by the sidecar (declared here so every configuration names them): the
   * reading workflow, JSON {"state": "seen" | "acknowledged" | "dismissed", "user", "at"}, and the radiologist's
   * verdict on the AI, JSON {"verdict": "agree" | "disagree", "finding"?, "user", "at", "model"?, "lambda"?}.
   */
  acknowledgement: { name: 'T3Ack', index: 4717 },
  feedback: { name: 'T3Feedback', index: 4718 },
  /**
   * Mean JS divergence of the study's images (4 decimals; absent under one-model policies) and the model bundle that
   * judged it ("<bundle> <version>; generalist <name> <version> <sha256 prefix>; expert …"): the feedback export
   * (issue 24) reports them beside the radiologist's verdict.
   */
  divergence: { name: 'T3Divergence', index: 4719 },
  model: { name: 'T3Model', index: 4720 },
  lambda: { name: 'T3Lambda', index: 4703 },
  srInstanceId: { name: 'T3Sr', index: 4704 },
  error: { name: 'T3Error', index: 4705 },
  inputSetHash: { name: 'T3InputSet', index: 4706 },
  attempts: { name: 'T3Attempts', index: 4707 },
  runPriority: { name: 'T3Lane', index: 4708 },
} as const;

export type TriageMetadataKey = keyof typeof TRIAGE_METADATA;

/** Value of one of our metadata entries in an expanded metadata object, by name or by index. */
export function readTriageMetadata(expanded: Record<string, string>, key: TriageMetadataKey): string | null {
  const m = TRIAGE_METADATA[key];
  return expanded[m.name] ?? expanded[String(m.index)] ?? null;
}
