export class LabelsError extends Error {
  constructor(readonly file: string, readonly line: number | null, reason: string) {
    super(line === null ? `${file}: ${reason}` : `${file} line ${line}: ${reason}`);
    this.name = 'LabelsError';
  }
}

export interface LabelRow {
  /** Image file name relative to the folder of labels.csv. */
  file: string;
  /** The class as written: a bundle class label (e.g. "Pneumothorax") or its code value (e.g. "36118008"). */
  label: string;
  /** 1-based line number in labels.csv, for error messages. */
  line: number;
}

/** Splits one CSV line (RFC 4180 quoting: "a,b" and "" inside quotes). */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells.map((c) => c.trim());
}

/**
 * Parses labels.csv: a header naming a `file` column and a `label` column (a `code` column is used where `label` is
 * absent), one image per line. `file` is used in error messages.
 */
export function parseLabelsCsv(text: string, file: string): LabelRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const fileColumn = header.indexOf('file');
  let labelColumn = header.indexOf('label');
  if (labelColumn < 0) labelColumn = header.indexOf('code');
  if (fileColumn < 0 || labelColumn < 0) {
    throw new LabelsError(file, 1, `the header must name a "file" column and a "label" (or "code") column, got "${lines[0] ?? ''}"`);
  }
  const rows: LabelRow[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const cells = splitCsvLine(lines[i]);
    const name = cells[fileColumn] ?? '';
    const label = cells[labelColumn] ?? '';
    if (!name) throw new LabelsError(file, i + 1, 'empty file name');
    if (!label) throw new LabelsError(file, i + 1, `no label for ${name}`);
    if (name.includes('..') || name.startsWith('/')) throw new LabelsError(file, i + 1, `file "${name}" must be inside the folder`);
    if (seen.has(name)) throw new LabelsError(file, i + 1, `file "${name}" is listed twice`);
    seen.add(name);
    rows.push({ file: name, label, line: i + 1 });
  }
  if (rows.length === 0) throw new LabelsError(file, null, 'lists no images');
  return rows;
}
