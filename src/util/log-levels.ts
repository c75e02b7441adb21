/**
 * The level of every event the sidecar logs. Events keep their names (operators' parsers and dashboards match on
 * `event`); the level says how much an operator needs it: `error` when work or state is lost until someone acts,
 * `warn` when the sidecar works around a problem (a retry, a refused setting, an unreachable Orthanc), `info` for the
 * lifecycle and each study's outcome, `debug` for the chatty per-item details. Like json-value.ts this file imports
 * nothing, so every layer may name a level.
 */

/** pino's names, quietest last; `silent` logs nothing. */
export const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error', 'silent'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];
export type EventLevel = Exclude<LogLevel, 'silent'>;

/** Where the sidecar starts when nothing else is configured. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

const EVENT_LEVELS: Readonly<Record<string, EventLevel>> = Object.freeze({
  // Lost work or state: a study that will not be triaged without someone, a result or checkpoint not saved.
  'grpc-internal-error': 'error',
  'stable-study-failed': 'error',
  'claimed-study-failed': 'error',
  'study-parked': 'error',
  'study-handler-failed': 'error',
  'instance-handler-failed': 'error',
  'state-write-failed': 'error',
  'checkpoint-save-failed': 'error',
  'live-settings-not-saved': 'error',
  // Worked around: retried, skipped, refused or repeated until it clears.
  'study-failed': 'warn',
  'orthanc-problem': 'warn',
  'orthanc-database-reset': 'warn',
  'configuration-warning': 'warn',
  'live-settings-refused': 'warn',
  'readiness-check-failed': 'warn',
  'claim-taken-over': 'warn',
  'claim-lost': 'warn',
  'speculation-failed': 'warn',
  'drift-source-unread': 'warn',
  'sr-unreadable': 'warn',
  'demonstration-model': 'warn',
  // Lifecycle, changes made by people, each study's result.
  starting: 'info',
  serving: 'info',
  stopping: 'info',
  stopped: 'info',
  'grpc-listening': 'info',
  'grpc-disabled': 'info',
  'metrics-listening': 'info',
  'live-settings-loaded': 'info',
  'orthanc-reachable': 'info',
  'config-changed': 'info',
  'grpc-tokens-changed': 'info',
  coordination: 'info',
  'study-done': 'info',
  'source-header-adjusted': 'info',
  // Which execution provider and sessions each engine started with: once per bundle, and the first thing an operator
  // checks when inference is slow; a claim says which worker of a cluster took a study (once per study, like its
  // result). Both at info so the default level shows them (the CLI and cluster tests read them).
  engine: 'info',
  'study-claimed': 'info',
  // Per item and repetitive: wanted when following one study through, noise otherwise.
  'study-unchanged': 'debug',
  'study-gone': 'debug',
});

/** An event's level; an event not in the table is `info`, so a new event is never hidden by default. */
export function levelOfEvent(event: string): EventLevel {
  return Object.hasOwn(EVENT_LEVELS, event) ? EVENT_LEVELS[event] : 'info';
}
