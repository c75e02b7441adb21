import pino from 'pino';
import { DEFAULT_LOG_LEVEL, levelOfEvent, type LogLevel } from './log-levels';

/** The log interface the sidecar's modules are given (pipeline/jobs/job-runner.ts SidecarLog has this shape). */
export type EventLog = (event: string, fields: Record<string, unknown>) => void;

/** Where log lines go: a process stream, or a test's collector. */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * Structured log lines through pino: one JSON object per line, `{"level":"warn","time":"<ISO 8601>","event":…,
 * …fields}`. The `event` and `time` fields keep the names and format the hand-written lines had, so operators'
 * parsers keep working; `level` is new, and lines below `level` are not written at all. Fields carry Orthanc ids and
 * counts, never patient data (the callers' contract; test/util/structured-log.test.ts checks the lines a study makes).
 * pino writes each line synchronously to the sink, so a crash right after an `error` line does not lose it.
 */
export function structuredLog(sink: LineSink, level: LogLevel = DEFAULT_LOG_LEVEL): EventLog {
  const logger = pino(
    {
      level,
      // No pid or hostname on every line: a sidecar is one process, and its host is in the collector's metadata.
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  return (event, fields) => {
    logger[levelOfEvent(event)]({ event, ...fields });
  };
}
