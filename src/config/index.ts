export * from './sidecar-config';
export { ConfigError, ConfigErrorList } from './config-error';
export { validateSidecarConfig, CONFIG_ROOT } from './validate-config';
export { loadSidecarConfig, readT3Section, mergeConfig, configFromEnv, ENV_BINDINGS } from './load-config';
export type { LoadConfigOptions, LoadedConfig } from './load-config';
export { parseJsonWithComments } from './json-with-comments';
export { LIVE_SETTINGS_FILE, LiveSettingsError, liveOverridesOf, liveSettingsParticipant, liveSettingsPath, readLiveSettings, valueSources, withLiveSettings } from './live-settings';
export type { ConfigLayers, ValueSource } from './live-settings';
