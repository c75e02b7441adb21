import { UsageError } from './command';

export interface ParsedArgs {
  /** `--name value` and `--name=value` options; a flag without a value is `true`. Repeated options keep the last. */
  options: Map<string, string | true>;
  positionals: string[];
}

/**
 * Parses `--key value`, `--key=value` and bare flags. `booleanFlags` names the options that never take a value,
 * so `--json FILE` does not swallow FILE. Unknown options are rejected with their name so typos are not ignored.
 */
export function parseArgs(argv: string[], known: { values: string[]; flags?: string[] }): ParsedArgs {
  const values = new Set(known.values);
  const flags = new Set(known.flags ?? []);
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (flags.has(name)) {
      if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
      options.set(name, true);
    } else if (values.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
      options.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { options, positionals };
}

export function optionString(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function optionNumber(args: ParsedArgs, name: string, check: (n: number) => boolean, what: string): number | undefined {
  const raw = optionString(args, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`option --${name} must be ${what}, got "${raw}"`);
  return n;
}
