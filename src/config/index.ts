export * from './sidecar-config';
export { ConfigError, ConfigErrorList } from './config-error';
export { validateSidecarConfig } from './validate-config';
export { loadSidecarConfig, readT3Section, mergeConfig, configFromEnv, ENV_BINDINGS } from './load-config';
export { parseJsonWithComments } from './json-with-comments';
export { LIVE_SETTINGS_FILE, liveOverridesOf, liveSettingsParticipant, liveSettingsPath, readLiveSettings, valueSources, withLiveSettings } from './live-settings';
export type { ConfigLayers } from './live-settings';
