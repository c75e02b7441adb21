import type { BatcherSettings } from '../classification/batcher';
import type { RetrySettings } from '../jobs/retry-policy';
import type { RouteTable } from '../routing/routing';
import type { TriageConfig } from '../../report';
import type { PolicyName } from '../../t3';
import type { ExecutionProviderName } from '../../engine';
import type { FramePolicy } from '../../dicom';

/**
 * The part of the sidecar configuration the pipeline reads. It is the shape of config/'s SidecarConfig (pipeline/
 * may not import config/), so a SidecarConfig is passed in as is.
 */
export interface PipelineConfig {
  /** Absent: not a production configuration (demonstration bundles load, and are announced). */
  deployment?: { production: boolean; allowDemonstrationModels: boolean };
  bundles: { name: string; dir: string }[];
  routing: RouteTable;
  /** coefficientSample: T3B's λ_B from k images per batch (0 or absent: every image). */
  batching: BatcherSettings & { coefficientSample?: number };
  inference: {
    policy: PolicyName;
    wiseAlpha: number;
    framePolicy: FramePolicy;
    pixelSource: 'local' | 'orthanc';
    onBadImage: 'skip' | 'fail-study';
    executionProviders: ExecutionProviderName[];
    decodeConcurrency: number;
    /** Sessions of the fixed passes (engine/fixed-pass-sessions.ts); absent: auto. Read when bundles load. */
    fixedPassSessions?: 'auto' | 'plain' | 'merged';
    /** ONNX Runtime intra-op threads per session (engine/intra-op-threads.ts); absent: auto. Read when bundles load. */
    intraOpThreads?: 'auto' | number;
    /** Images declaring more decoded bytes fail as image-too-large before decoding; absent: dicom/'s default. */
    maxDecodedImageBytes?: number;
  };
  triage: TriageConfig;
  retry: RetrySettings;
  /** Speculative fixed-weight passes on NewInstance (read at start). */
  speculation: { enabled: boolean; cacheMegabytes: number; queueBound: number };
}
