import path from 'node:path';
import {
  demoBundleDir,
  diagnoseProviders,
  formatProviderReport,
  installCudaProvider,
  installedOnnxruntimeVersion,
  onnxruntimeBindingDir,
  ProviderInstallError,
} from '../engine';
import { ExitCode, UsageError, type CliCommand } from './command';
import { optionString, parseArgs } from './parse-args';

const HELP = `usage: orthanc-t3 gpu-provider install [--from PACKAGE.tgz]

Opt-in: puts ONNX Runtime's CUDA execution provider, built for the installed onnxruntime-node, next to its binding.
The libraries come from the npm package com.github.asus4.onnxruntime.linux-x64-gpu (fetched with \`npm pack\` from
the npm registry, about 179 MB; --from uses a tarball already here), are checked against the vetted sha256, and are
copied into node_modules/onnxruntime-node/bin/napi-v6/linux/x64/. Only onnxruntime-node 1.29.0 has one (docs/GPU.md).
The provider then still needs the NVIDIA driver, CUDA 13 and cuDNN 9: \`orthanc-t3 doctor\` says which is missing.`;

export const gpuProviderCommand: CliCommand = {
  name: 'gpu-provider',
  summary: 'install the CUDA execution provider matching onnxruntime-node (from the npm registry)',
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['from'], flags: ['help'] });
    if (args.options.get('help')) {
      io.stdout.write(HELP + '\n');
      return ExitCode.ok;
    }
    const [action, ...rest] = args.positionals;
    if (action !== 'install') throw new UsageError(`expected "install" (orthanc-t3 gpu-provider --help), got ${action === undefined ? 'nothing' : `"${action}"`}`);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    try {
      const result = await installCudaProvider({
        bindingDir: onnxruntimeBindingDir(),
        onnxruntimeVersion: installedOnnxruntimeVersion(),
        from: optionString(args, 'from'),
        log: (line) => io.stderr.write(`gpu-provider: ${line}\n`),
      });
      io.stdout.write(`installed ${result.pkg.npmPackage}@${result.pkg.npmVersion} (ONNX Runtime ${result.pkg.onnxruntimeVersion} CUDA provider) into ${onnxruntimeBindingDir()}\n`);
    } catch (error) {
      if (error instanceof ProviderInstallError) {
        io.stderr.write(`orthanc-t3 gpu-provider: ${error.message}\n`);
        return ExitCode.usage;
      }
      throw error;
    }
    // What the provider still needs on this machine (the CUDA libraries are not part of the package).
    const [cuda] = await diagnoseProviders({ providers: ['cuda'], probeModel: path.join(demoBundleDir(), 'generalist.onnx') });
    io.stdout.write(formatProviderReport(cuda) + '\n');
    return ExitCode.ok;
  },
};
