/**
 * Helpers for values parsed from JSON (configuration files, request bodies, bundle manifests). This folder sits at
 * the bottom of the layering beside errors/: it imports nothing, so every layer, the pure ones (t3/, dicom/, report/)
 * included, may use it without pulling anything else in.
 */

/** A JSON object (not an array, not null): the one test every reader of untyped JSON starts with. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Dotted paths whose values differ between two JSON values: objects are compared key by key (keys in sorted order),
 * arrays and scalars whole. Two different non-objects at the top give `(root)`.
 */
export function differingPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(root)'];
}
