import { ReportError } from './errors';

/** DICOM value rules this module writes against (PS3.5 6.2). dcmjs silently truncates, so we check first. */
export const MAX_LO = 64;
export const MAX_SH = 16;
export const MAX_UI = 64;
export const MAX_DS = 16;

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

export function isAscii(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text);
}

/** A short text (LO/SH/CS): non-empty, within `max` characters, no backslash (value delimiter) or control characters. */
export function checkShortText(field: string, value: unknown, max: number, vrName: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new ReportError(field, `must be a non-empty string (${vrName})`);
  }
  if ([...value].length > max) {
    throw new ReportError(field, `is ${[...value].length} characters, more than the ${max} allowed in ${vrName}`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x1f\x7f]/.test(value)) {
    throw new ReportError(field, `must not contain a backslash or control characters (${vrName})`);
  }
  return value;
}

export function checkUid(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_UI || !UID_PATTERN.test(value)) {
    throw new ReportError(field, `must be a DICOM UID (digits and dots, ≤ ${MAX_UI} characters), got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkFinite(field: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ReportError(field, `must be a finite number in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/**
 * Decimal String (DS): at most 16 characters. Uses the most significant digits that fit, plain notation when it
 * fits, exponent notation otherwise; trailing zeros of the fraction are dropped.
 */
export function formatDecimalString(value: number): string {
  if (!Number.isFinite(value)) throw new ReportError('DS value', `must be finite, got ${value}`);
  if (value === 0) return '0';
  for (let digits = 16; digits >= 1; digits -= 1) {
    let text = value.toPrecision(digits);
    if (text.includes('e')) {
      const [mantissa, exponent] = text.split('e');
      text = `${trimFraction(mantissa)}E${exponent.replace('+', '')}`;
    } else {
      text = trimFraction(text);
    }
    if (text.length <= MAX_DS) return text;
  }
  throw new ReportError('DS value', `cannot be written in ${MAX_DS} characters: ${value}`);
}

function trimFraction(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** DICOM DA and TM (no fraction) of a date, in UTC shifted by `offsetMinutes`. */
export function formatDateTime(date: Date, offsetMinutes: number): { date: string; time: string } {
  const shifted = new Date(date.getTime() + offsetMinutes * 60_000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return {
    date: `${pad(shifted.getUTCFullYear(), 4)}${pad(shifted.getUTCMonth() + 1)}${pad(shifted.getUTCDate())}`,
    time: `${pad(shifted.getUTCHours())}${pad(shifted.getUTCMinutes())}${pad(shifted.getUTCSeconds())}`,
  };
}

/** Minutes east of UTC from a DICOM TimezoneOffsetFromUTC ("+0100", "-0530"); null when absent or malformed. */
export function parseTimezoneOffset(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = /^([+-])(\d{2})(\d{2})$/.exec(value.trim());
  if (!match) return null;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}
