import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildMergedModel, sha256Hex } from '../engine';
import { ExitCode, UsageError, type CliCommand } from './command';
import { optionString, parseArgs } from './parse-args';

const HELP = `usage: orthanc-t3 build-merged --generalist A.onnx --expert B.onnx --out M.onnx

Builds one ONNX model computing W = (1 - lambda)*W_generalist + lambda*W_expert in-graph for every float weight
that differs, from a scalar float input "lambda"; weights equal in both are stored once. Prints a JSON summary.`;

export const buildMergedCommand: CliCommand = {
  name: 'build-merged',
  summary: 'build the merged ONNX graph of a generalist and its expert',
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['generalist', 'expert', 'out'], flags: ['help'] });
    if (args.options.get('help')) {
      io.stdout.write(HELP + '\n');
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const need = (name: string): string => {
      const value = optionString(args, name);
      if (!value) throw new UsageError(`--${name} is required\n${HELP}`);
      return value;
    };
    const generalistPath = need('generalist');
    const expertPath = need('expert');
    const outPath = need('out');
    const read = async (file: string, role: string) => fs.readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read the ${role} model ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    });
    const [generalist, expert] = await Promise.all([read(generalistPath, 'generalist'), read(expertPath, 'expert')]);
    const started = performance.now();
    const merged = buildMergedModel(generalist, expert);
    const buildMs = performance.now() - started;
    await fs.mkdir(path.dirname(path.resolve(outPath)), { recursive: true });
    await fs.writeFile(outPath, merged.bytes);
    io.stdout.write(JSON.stringify({
      out: outPath,
      generalist: { file: generalistPath, sha256: sha256Hex(generalist) },
      expert: { file: expertPath, sha256: sha256Hex(expert) },
      sha256: sha256Hex(merged.bytes),
      ...merged.summary,
      buildMs: Math.round(buildMs),
    }) + '\n');
    return ExitCode.ok;
  },
};
