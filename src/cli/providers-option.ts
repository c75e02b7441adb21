import { parseExecutionProviders, type ExecutionProviderName } from '../engine';
import { UsageError } from './command';
import { optionString, type ParsedArgs } from './parse-args';

/** `--providers cuda,webgpu,cpu`: the execution providers to try in order; undefined leaves the engine's default. */
export function providersOption(args: ParsedArgs): ExecutionProviderName[] | undefined {
  const text = optionString(args, 'providers');
  if (text === undefined) return undefined;
  try {
    return parseExecutionProviders(text.split(',').map((s) => s.trim()).filter(Boolean));
  } catch (err) {
    throw new UsageError(`--providers: ${(err as Error).message}`);
  }
}
