import { compileRoutePattern } from './route-pattern';

/** Attributes of one series that routing rules look at. Empty string when the tag is absent. */
export interface RoutingAttributes {
  modality: string;
  sopClassUid: string;
  bodyPartExamined: string;
  studyDescription: string;
  seriesDescription: string;
  /** Calling AE title of the modality that sent the instance, when Orthanc recorded it. */
  callingAet: string | null;
}

/**
 * Every field that is present must match (lists: any entry, case-insensitive; descriptions: a pattern found in the
 * text, case-insensitive, in RE2 syntax, route-pattern.ts).
 */
export interface RouteRule {
  bundle: string;
  modality?: string[];
  sopClassUid?: string[];
  bodyPartExamined?: string[];
  studyDescription?: string;
  seriesDescription?: string;
  callingAet?: string[];
}

export interface RouteTable {
  rules: RouteRule[];
  defaultBundle: string | null;
}

function inList(list: string[] | undefined, value: string | null): boolean {
  if (list === undefined) return true;
  if (value === null) return false;
  const v = value.trim().toUpperCase();
  return list.some((entry) => entry.trim().toUpperCase() === v);
}

/** Linear in the length of `value` whatever the pattern; compiled once per pattern (route-pattern.ts). */
function matches(pattern: string | undefined, value: string): boolean {
  return pattern === undefined || compileRoutePattern(pattern).test(value);
}

export function ruleMatches(rule: RouteRule, a: RoutingAttributes): boolean {
  return (
    inList(rule.modality, a.modality) &&
    inList(rule.sopClassUid, a.sopClassUid) &&
    inList(rule.bodyPartExamined, a.bodyPartExamined) &&
    inList(rule.callingAet, a.callingAet) &&
    matches(rule.studyDescription, a.studyDescription) &&
    matches(rule.seriesDescription, a.seriesDescription)
  );
}

/** The bundle for these attributes: the first matching rule, else the default (null: do not analyse). */
export function chooseBundle(table: RouteTable, a: RoutingAttributes): string | null {
  for (const rule of table.rules) if (ruleMatches(rule, a)) return rule.bundle;
  return table.defaultBundle;
}
