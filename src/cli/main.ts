import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';

/**
 * Subcommands are loaded on demand so `orthanc-t3 coefficients` does not pay for loading ONNX Runtime or gRPC.
 */
const COMMANDS: Record<string, { summary: string; load: () => CliCommand }> = {
  serve: { summary: 'follow Orthanc and triage every study that becomes stable (the main job)', load: () => (require('./serve') as typeof import('./serve')).serveCommand },
  demo: { summary: 'start a local Orthanc with the demo bundle, send the sample studies, print their triage', load: () => (require('./demo') as typeof import('./demo')).demoCommand },
  classify: { summary: 'classify DICOM files: one JSON line per file', load: () => (require('./classify') as typeof import('./classify')).classifyCommand },
  coefficients: { summary: 'explain T3 coefficients (JS, λ, DaWin) for one case of logits', load: () => (require('./coefficients') as typeof import('./coefficients')).coefficientsCommand },
  'build-merged': { summary: 'build the merged ONNX graph of a generalist and its expert', load: () => (require('./build-merged') as typeof import('./build-merged')).buildMergedCommand },
  eval: { summary: 'evaluate a bundle: top-1, mCE and λ of every policy on clean, shifted and corrupted splits', load: () => (require('./eval') as typeof import('./eval')).evalCommand },
  fit: { summary: "fit the bundle's T3B coefficient map on labelled validation images (written only with --out)", load: () => (require('./fit') as typeof import('./fit')).fitCommand },
  calibrate: { summary: "fit the generalist's and the expert's temperatures on labelled images and write them into bundle.json", load: () => (require('./calibrate') as typeof import('./calibrate')).calibrateCommand },
  'load-test': { summary: 'bounded gRPC load test on loopback: req/s, latency percentiles, errors, peak RSS', load: () => (require('./load-test') as typeof import('./load-test')).loadTestCommand },
  bench: { summary: 'engine benchmark (images/s, RSS, session start)', load: () => (require('./bench') as typeof import('./bench')).benchCommand },
  doctor: { summary: 'which execution providers can start here; for the others, what is missing and how to get it', load: () => (require('./doctor') as typeof import('./doctor')).doctorCommand },
  'gpu-provider': { summary: 'install the CUDA execution provider matching onnxruntime-node (from the npm registry)', load: () => (require('./gpu-provider') as typeof import('./gpu-provider')).gpuProviderCommand },
  'make-config': { summary: 'write a ready production configuration (tokens, TLS certificates, Orthanc logins) and check it', load: () => (require('./make-config') as typeof import('./make-config')).makeConfigCommand },
  install: { summary: 'install the systemd service, the plugin and a make-config configuration (into --root for staging)', load: () => (require('./install') as typeof import('./install')).installCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['usage: orthanc-t3 <command> [options]', '', 'commands:', ...lines, '', 'orthanc-t3 <command> --help for its options; orthanc-t3 --version'].join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`orthanc-t3 ${(require('../../package.json') as { version: string }).version}\n`);
    return ExitCode.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage() + '\n');
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr.write(`orthanc-t3: unknown command "${name}"\n\n${usage()}\n`);
    return ExitCode.usage;
  }
  try {
    return await entry.load().run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`orthanc-t3 ${name}: ${err.message}\n`);
      return ExitCode.usage;
    }
    io.stderr.write(`orthanc-t3 ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.usage;
  }
}

/** Entry point of bin/orthanc-t3.js. Long-running commands (serve, demo) keep the process alive themselves. */
export function main(argv: string[]): void {
  runCli(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`orthanc-t3: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = ExitCode.usage;
    },
  );
}

// `node dist/cli/main.js <command>` (a compiled deployment, e.g. a service unit) runs the command directly;
// bin/orthanc-t3.js requires this module and calls main() itself.
if (require.main === module) main(process.argv.slice(2));
