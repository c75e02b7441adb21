/** The three SR validators of docs/SR.md, run as the real Debian tools; each returns the lines that are findings. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ToolRun { exitCode: number; lines: string[]; }

async function tool(command: string, args: string[], timeoutMs = 120_000): Promise<ToolRun> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { exitCode: 0, lines: `${stdout}\n${stderr}`.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0) };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error; // not started (ENOENT) or killed: a broken setup, not a finding
    return { exitCode: e.code, lines: `${e.stdout ?? ''}\n${e.stderr ?? ''}`.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0) };
  }
}

/** Acceptable per docs/SR.md: the private coding scheme being unrecognized, Device UID in Contributing Equipment. */
const DCIODVFY_ACCEPTABLE = [
  /^Warning - Unrecognized defined term <99T3> for value 1 of attribute <Coding Scheme Designator>$/,
  /^Warning - Attribute is not present in standard DICOM IOD - \(0x0018,0x1002\) UI Device UID$/,
  /^Warning - Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard Extended SOP Class$/,
];

/**
 * dciodvfy findings of an SR. `inherited` are dciodvfy's lines for the source image: a warning about a copied
 * Patient/Study attribute (e.g. a source PatientName in the retired form) is the source's, since those modules
 * must be copied exactly; errors are never excused.
 */
export async function dciodvfy(file: string, inherited: string[] = []): Promise<{ exitCode: number; findings: string[] }> {
  const { exitCode, lines } = await tool('dciodvfy', [file]);
  const inheritedWarnings = new Set(inherited.filter((l) => l.startsWith('Warning - ')));
  const findings = lines.filter((line) => line !== 'Comprehensive3DSR'
    && !DCIODVFY_ACCEPTABLE.some((re) => re.test(line)) && !inheritedWarnings.has(line));
  return { exitCode, findings };
}

export async function dciodvfyLines(file: string): Promise<string[]> {
  return (await tool('dciodvfy', [file])).lines;
}

/** dsrdump -v (never -Ec): E:/W:/F: lines other than the ISO_IR 192 VR-checker note are findings. */
export async function dsrdump(file: string): Promise<{ exitCode: number; findings: string[]; output: string[] }> {
  const { exitCode, lines } = await tool('dsrdump', ['-v', file]);
  const findings = lines.filter((line) => /^[EWF]: /.test(line)
    && line !== 'W: The VR checker does not support this Specific Character Set: ISO_IR 192');
  return { exitCode, findings, output: lines };
}

const PIXELMED_OK = [/^Found .*/, /^Root Template Validation Complete$/, /^IOD validation complete$/];
/**
 * PixelMed's warning about the private scheme it does not know (acceptable, docs/SR.md). PixelMed 20220618 was
 * not seen to print it for these SRs; the pattern only admits a warning that names the scheme as unrecognized.
 */
const PIXELMED_ACCEPTABLE = [/^Warning.*[Uu]nrecognized.*99T3/];

/** PixelMed DicomSRValidator with the options of docs/SR.md; it always exits 0, so every other line is a finding. */
export async function pixelmed(file: string): Promise<{ findings: string[]; output: string[] }> {
  const { lines } = await tool('java', ['-Djdk.xml.xpathExprGrpLimit=0', '-Djdk.xml.xpathExprOpLimit=0',
    '-Djdk.xml.xpathTotalOpLimit=0', '-cp', '/usr/share/java/pixelmed.jar', 'com.pixelmed.validate.DicomSRValidator',
    '-checkambiguoustemplate', '-checkcontentitemorder', '-checktemplateid', file], 180_000);
  const findings = lines.filter((line) => !PIXELMED_OK.some((re) => re.test(line))
    && !PIXELMED_ACCEPTABLE.some((re) => re.test(line)));
  return { findings, output: lines };
}
