import dcmjs from 'dcmjs';
import { ReportError } from './errors';

/**
 * The Patient, General Study and Patient Study attributes an AI-result SR copies from its source image, made
 * conformant on the way. Real modalities and RIS send over-long and otherwise broken values every day (a 17-character
 * AccessionNumber, a 92-character referring physician, control characters typed into a name field); none of them is
 * needed to classify the study, so none of them may stop its report. Each value is cut to its VR's maximum length on a
 * character boundary, characters its VR forbids are removed, and an invalid optional attribute is left out. What was
 * changed is returned by attribute name (never by value: names only may be logged).
 *
 * Two attributes are identity, not description: PatientID and StudyInstanceUID. Orthanc files an instance under the
 * hash of exactly these two values, and every downstream system matches the SR to its patient by them, so they are
 * copied byte for byte. A PatientID that breaks its VR (a control character, say) stays as the source has it and is
 * reported as non-conformant: an SR filed under a "cleaned" PatientID would belong to another patient record.
 */

/** Type 2 attributes: written empty when the source lacks them (or has nothing usable). */
export const COPIED_TYPE2 = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime',
  'ReferringPhysicianName', 'StudyID', 'AccessionNumber'] as const;

/** Type 3 attributes: copied when present and usable, else left out. */
export const COPIED_OPTIONAL = ['IssuerOfPatientID', 'IssuerOfPatientIDQualifiersSequence', 'PatientBirthTime',
  'OtherPatientIDsSequence', 'PatientComments', 'PatientSpeciesDescription', 'PatientSpeciesCodeSequence',
  'PatientBreedDescription', 'PatientBreedCodeSequence', 'ResponsiblePerson', 'ResponsiblePersonRole',
  'ResponsibleOrganization', 'PatientIdentityRemoved', 'DeidentificationMethod', 'QualityControlSubject',
  'IssuerOfAccessionNumberSequence', 'StudyDescription', 'PhysiciansOfRecord', 'NameOfPhysiciansReadingStudy',
  'ProcedureCodeSequence', 'AdmittingDiagnosesDescription', 'PatientAge', 'PatientSize', 'PatientWeight',
  'TimezoneOffsetFromUTC'] as const;

/** Copied exactly, whatever they hold (see above). */
const IDENTITY = new Set(['PatientID', 'StudyInstanceUID']);

/** Maximum value lengths in characters of the string VRs (PS3.5 table 6.2-1); PN's applies to each component group. */
const MAX_LENGTH: Readonly<Record<string, number>> = {
  AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, LO: 64, LT: 10240, PN: 64, SH: 16, ST: 1024, TM: 14, UI: 64,
};

/** VRs whose value is free text and may hold line breaks, tabs and form feeds. */
const TEXT_VRS = new Set(['LT', 'ST', 'UT']);

/**
 * Characters no copied value keeps: C0 and C1 controls and DEL (the SR is written in UTF-8, ISO_IR 192, where escape
 * sequences have no place either), and the Unicode bidirectional controls that make a name display reversed or
 * reordered (a spoofing vector, never part of a real name or description).
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_STRINGS = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_TEXT = /[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

const PATTERNS: Readonly<Record<string, RegExp>> = {
  AS: /^\d{3}[DWMY]$/,
  CS: /^[A-Z0-9 _]*$/,
  DS: /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/,
  IS: /^[+-]?\d+$/,
  UI: /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/,
  AE: /^[^\\]*$/,
};

const DATE_KEYS = new Set(['StudyDate', 'PatientBirthDate']);
const TIME_KEYS = new Set(['StudyTime', 'PatientBirthTime']);

export interface SourceModules {
  /** The attributes to write, naturalized (dcmjs). */
  attributes: Record<string, unknown>;
  /** Attributes changed or left out to conform (names, nested as `Sequence.Attribute`), sorted, no duplicates. */
  adjusted: string[];
  /** Identity attributes copied unchanged although their value breaks its VR. */
  nonConformant: string[];
}

function vrOf(key: string): { vr: string | undefined; vm: string | undefined } {
  const entry = dcmjs.data.DicomMetaDictionary.nameMap[key] as { vr?: string; vm?: string } | undefined;
  return { vr: entry?.vr, vm: entry?.vm };
}

/** Cuts to `max` characters (code points, never inside a surrogate pair) and drops the trailing spaces left. */
function cut(value: string, max: number): string {
  const chars = [...value];
  return chars.length <= max ? value : chars.slice(0, max).join('').trimEnd();
}

/**
 * Old ACR-NEMA style dates and times ("1994.01.30", "12:18:03") are still found in archives; DICOM 3 DA/TM forbid
 * the separators. The separators are dropped; anything else that is not a DICOM date or time is unusable.
 */
function normalizeDateOrTime(key: string, value: string): string | null {
  if (value === '') return value;
  if (DATE_KEYS.has(key)) {
    const date = value.trim().replace(/^(\d{4})\.(\d{2})\.(\d{2})$/, '$1$2$3');
    return /^\d{8}$/.test(date) ? date : null;
  }
  if (TIME_KEYS.has(key)) {
    const time = value.trim().replace(/^(\d{2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?$/, (_m, h, m, sec) => `${h}${m}${sec ?? ''}`);
    return /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(time) ? time : null;
  }
  return value;
}

/** One string value of VR `vr` made conformant; null when nothing usable is left. */
function conformString(key: string, vr: string, value: string): string | null {
  let out = value.replace(TEXT_VRS.has(vr) ? FORBIDDEN_IN_TEXT : FORBIDDEN_IN_STRINGS, '');
  // A backslash separates values; inside one value it cannot be written (text VRs may hold it).
  if (!TEXT_VRS.has(vr)) out = out.replace(/\\/g, ' ');
  if (vr === 'CS') out = out.toUpperCase().replace(/[^A-Z0-9 _]/g, ' ');
  if (vr === 'DA' || vr === 'TM') {
    const normal = normalizeDateOrTime(key, out);
    if (normal === null) return null;
    out = normal;
  }
  if (vr === 'DS' || vr === 'IS' || vr === 'AS' || vr === 'UI') out = out.trim();
  const max = MAX_LENGTH[vr];
  if (max !== undefined && vr !== 'PN') out = cut(out, max);
  const pattern = PATTERNS[vr];
  if (pattern && out !== '' && !pattern.test(out)) return null;
  if (vr === 'DS' && out.length > MAX_LENGTH.DS) return null;
  return out;
}

/** One component group of a person name: at most five `^` components and 64 characters, no `=`. */
function conformNameGroup(group: string): string {
  let text = group.replace(FORBIDDEN_IN_STRINGS, '').replace(/[\\=]/g, ' ');
  const components = text.split('^');
  if (components.length > 5) text = [...components.slice(0, 4), components.slice(4).join(' ')].join('^');
  return cut(text, MAX_LENGTH.PN);
}

function conformPersonName(value: unknown): unknown {
  if (typeof value === 'string') return value.split('=').slice(0, 3).map(conformNameGroup).join('=');
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [group, text] of Object.entries(value)) out[group] = typeof text === 'string' ? conformNameGroup(text) : text;
    return out;
  }
  return value;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Whether an identity value breaks its VR (reported, never changed). */
function breaksVr(vr: string | undefined, value: unknown): boolean {
  if (typeof value !== 'string' || vr === undefined) return false;
  const max = MAX_LENGTH[vr];
  return conformString('', vr, value) !== value || (max !== undefined && [...value].length > max);
}

class Conformer {
  readonly adjusted = new Set<string>();
  readonly nonConformant = new Set<string>();

  /** The conformant form of one attribute, or undefined to leave it out. */
  attribute(key: string, value: unknown, path: string): unknown {
    const { vr, vm } = vrOf(key);
    if (IDENTITY.has(key)) {
      if (breaksVr(vr, value)) this.nonConformant.add(path);
      return value;
    }
    if (vr === 'SQ') return this.sequence(value, path);
    if (vr === undefined || (MAX_LENGTH[vr] === undefined && !TEXT_VRS.has(vr))) return value;
    let values: unknown[] = Array.isArray(value) ? value : [value];
    // A single-valued attribute that arrived with several values (a stray backslash): one value, spaces between.
    if (vm === '1' && values.length > 1 && values.every((v) => typeof v === 'string')) values = [values.join(' ')];
    const out: unknown[] = [];
    for (const v of values) {
      if (vr === 'PN') out.push(conformPersonName(v));
      else if (typeof v === 'string') {
        const conformed = conformString(key, vr, v);
        if (conformed !== null) out.push(conformed);
      } else if (typeof v === 'number' && (vr === 'DS' || vr === 'IS')) {
        const conformed = conformString(key, vr, String(v));
        if (conformed !== null) out.push(v);
      } else out.push(v);
    }
    const result = Array.isArray(value) ? out : out[0];
    if (!same(result, value)) this.adjusted.add(path);
    return result;
  }

  private sequence(value: unknown, path: string): unknown {
    if (!Array.isArray(value)) return value;
    return value.map((item: unknown) => {
      if (!item || typeof item !== 'object') return item;
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(item as Record<string, unknown>)) {
        if (key.startsWith('_')) { out[key] = v; continue; }
        const conformed = this.attribute(key, v, `${path}.${key}`);
        if (conformed !== undefined && conformed !== null) out[key] = conformed;
      }
      return out;
    });
  }
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

/**
 * The source modules the SR writes, conformant. Throws ReportError only for what cannot be conformed without
 * changing the study's identity: a PatientID longer than its VR allows (the Part 10 writer would cut it, filing the
 * SR under another patient).
 */
export function sourceModules(header: Record<string, unknown>): SourceModules {
  const conformer = new Conformer();
  const attributes: Record<string, unknown> = {};
  for (const key of COPIED_TYPE2) {
    const value = header[key];
    if (isEmpty(value)) { attributes[key] = ''; continue; }
    const conformed = conformer.attribute(key, value, key);
    attributes[key] = conformed === undefined || conformed === null ? '' : conformed;
  }
  for (const key of COPIED_OPTIONAL) {
    const value = header[key];
    if (isEmpty(value)) continue;
    // Size and weight 0 mean "not recorded" in some sources; written, validators flag them as suspicious.
    if ((key === 'PatientSize' || key === 'PatientWeight') && Number(Array.isArray(value) ? value[0] : value) === 0) continue;
    const conformed = conformer.attribute(key, value, key);
    if (isEmpty(conformed)) conformer.adjusted.add(key);
    else attributes[key] = conformed;
  }
  attributes.StudyInstanceUID = header.StudyInstanceUID;
  const patientId = attributes.PatientID;
  if (typeof patientId === 'string' && [...patientId].length > MAX_LENGTH.LO) {
    throw new ReportError('sourceHeader.PatientID',
      `is longer than the ${MAX_LENGTH.LO} characters of its VR LO: it is the patient's identity in the archive and cannot be shortened`);
  }
  return { attributes, adjusted: [...conformer.adjusted].sort(), nonConformant: [...conformer.nonConformant].sort() };
}
