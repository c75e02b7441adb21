import path from 'node:path';
import { demoBundleDir, diagnoseProviders, formatProviderReport, installedOnnxruntimeVersion, onnxruntimeBindingDir } from '../engine';
import { ExitCode, UsageError, type CliCommand } from './command';
import { parseArgs } from './parse-args';
import { providersOption } from './providers-option';

const HELP = `usage: orthanc-t3 doctor [--providers cuda,webgpu,cpu] [--no-start] [--json]

Which ONNX Runtime execution providers can start on this machine. For each one that cannot: the first missing
piece (a library, a driver, the provider files) and how to get it, one line each. A provider with nothing visibly
missing is proven by starting a session on the demo bundle's generalist (--no-start: only read the machine).
  --json   the full report (every missing piece) as JSON`;

export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'which execution providers can start here; for the others, what is missing and how to get it',
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['providers'], flags: ['no-start', 'json', 'help'] });
    if (args.options.get('help')) {
      io.stdout.write(HELP + '\n');
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const reports = await diagnoseProviders({
      providers: providersOption(args),
      probeModel: path.join(demoBundleDir(), 'generalist.onnx'),
      start: args.options.get('no-start') !== true,
    });
    if (args.options.get('json')) {
      io.stdout.write(JSON.stringify({ onnxruntimeNode: installedOnnxruntimeVersion(), bindingDir: onnxruntimeBindingDir(), providers: reports }, null, 2) + '\n');
      return ExitCode.ok;
    }
    io.stdout.write(`onnxruntime-node ${installedOnnxruntimeVersion()} (binding: ${onnxruntimeBindingDir()})\n`);
    for (const report of reports) io.stdout.write(formatProviderReport(report) + '\n');
    return ExitCode.ok;
  },
};
