/** Reads a written SR with dcmjs directly (independent of parseAiResultSr) for the rules no validator checks. */
import dcmjs from 'dcmjs';

export type Item = Record<string, unknown>;

export function readDataset(bytes: Uint8Array): Item {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).dict);
}

export function seq(item: Item, key: string): Item[] {
  const v = item[key];
  return v === undefined || v === null ? [] : (Array.isArray(v) ? v : [v]) as Item[];
}

export function conceptValue(item: Item): string {
  const c = seq(item, 'ConceptNameCodeSequence')[0];
  return c ? String(c.CodeValue ?? c.LongCodeValue) : '';
}

export function children(item: Item, concept?: string): Item[] {
  const all = seq(item, 'ContentSequence');
  return concept === undefined ? all : all.filter((c) => conceptValue(c) === concept);
}

/** Every content item of the tree, depth first. */
export function allItems(root: Item): Item[] {
  const out: Item[] = [];
  const walk = (item: Item): void => { for (const c of seq(item, 'ContentSequence')) { out.push(c); walk(c); } };
  walk(root);
  return out;
}

/** The semantic rules of docs/SR.md that no validator checks; returns the violations (empty = all hold). */
export function semanticViolations(root: Item): string[] {
  const problems: string[] = [];
  const top = children(root);
  const observerType = top.filter((c) => conceptValue(c) === '121005' && c.RelationshipType === 'HAS OBS CONTEXT');
  const deviceType = observerType.some((c) => seq(c, 'ConceptCodeSequence')[0]?.CodeValue === '121007');
  const deviceUid = top.find((c) => conceptValue(c) === '121012');
  if (!deviceType || !deviceUid || !deviceUid.UID) problems.push('no device observer (Observer Type = Device with a Device Observer UID)');

  const measurements = children(root, '126010');
  if (measurements.length !== 1) problems.push(`expected one Imaging Measurements container, found ${measurements.length}`);
  const tid4019 = allItems(root).filter((c) => conceptValue(c) === '111001');
  if (tid4019.length !== 1) problems.push(`expected one TID 4019 (Algorithm Name), found ${tid4019.length}`);

  const evidence = new Set(seq(root, 'CurrentRequestedProcedureEvidenceSequence').flatMap((study) =>
    seq(study, 'ReferencedSeriesSequence').flatMap((series) =>
      seq(series, 'ReferencedSOPSequence').map((sop) => `${sop.ReferencedSOPClassUID}|${sop.ReferencedSOPInstanceUID}`))));
  const trackingUids = new Set<string>();
  const groups = measurements.flatMap((m) => children(m, '125007'));
  groups.forEach((group, g) => {
    if (children(group, '121071').filter((c) => c.ValueType === 'CODE').length !== 1) problems.push(`group ${g}: no single Finding`);
    const certainty = children(group, '111012');
    const value = certainty.length === 1 ? Number(seq(certainty[0], 'MeasuredValueSequence')[0]?.NumericValue) : NaN;
    if (!(value >= 0 && value <= 100)) problems.push(`group ${g}: certainty ${value} not in 0–100`);
    const uid = children(group, '112040')[0]?.UID as string | undefined;
    if (!uid) problems.push(`group ${g}: no tracking UID`);
    else if (trackingUids.has(uid)) problems.push(`group ${g}: tracking UID ${uid} repeated`);
    else trackingUids.add(uid);
    for (const image of children(group).filter((c) => c.ValueType === 'IMAGE')) {
      const ref = seq(image, 'ReferencedSOPSequence')[0];
      if (!evidence.has(`${ref.ReferencedSOPClassUID}|${ref.ReferencedSOPInstanceUID}`)) {
        problems.push(`group ${g}: image ${String(ref.ReferencedSOPInstanceUID)} not in the evidence sequence`);
      }
    }
  });
  for (const image of allItems(root).filter((c) => c.ValueType === 'IMAGE')) {
    const ref = seq(image, 'ReferencedSOPSequence')[0];
    if (!evidence.has(`${ref.ReferencedSOPClassUID}|${ref.ReferencedSOPInstanceUID}`)) {
      problems.push(`image ${String(ref.ReferencedSOPInstanceUID)} not in the evidence sequence`);
    }
  }
  return problems;
}
