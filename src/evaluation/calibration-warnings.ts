import type { TemperatureFit } from './temperature-scaling';

/** The search range fitTemperature uses by default; a fit at its edge found no minimum inside it. */
const TEMPERATURE_SEARCH_RANGE = { min: 0.01, max: 100 } as const;

/** Fewer labelled images than this give temperatures that mostly reflect noise. */
const MIN_CALIBRATION_IMAGES = 50;

/**
 * What makes a temperature fit untrustworthy: a temperature at the edge of the search range (the NLL kept falling,
 * e.g. 2 images, both classified confidently wrong or right), or too few images.
 */
export function calibrationWarnings(fits: Record<string, TemperatureFit>, imageCount: number): string[] {
  const warnings: string[] = [];
  for (const [role, fit] of Object.entries(fits)) {
    // Within 1 % (in ln T) of the range's edge: the golden-section search ended against the bound.
    const span = Math.log(TEMPERATURE_SEARCH_RANGE.max) - Math.log(TEMPERATURE_SEARCH_RANGE.min);
    const fromMin = Math.log(fit.temperature) - Math.log(TEMPERATURE_SEARCH_RANGE.min);
    const fromMax = Math.log(TEMPERATURE_SEARCH_RANGE.max) - Math.log(fit.temperature);
    if (Math.min(fromMin, fromMax) < 0.01 * span) {
      warnings.push(`the ${role} temperature ${fit.temperature.toPrecision(4)} is at the edge of the search range ` +
        `[${TEMPERATURE_SEARCH_RANGE.min}, ${TEMPERATURE_SEARCH_RANGE.max}]: the fit found no minimum (too few or unrepresentative images)`);
    }
  }
  if (imageCount < MIN_CALIBRATION_IMAGES) {
    warnings.push(`only ${imageCount} labelled image(s): temperatures fitted on fewer than ${MIN_CALIBRATION_IMAGES} mostly reflect noise`);
  }
  return warnings;
}
