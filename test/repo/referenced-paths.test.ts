/**
 * The repository stands alone: every repository path that a comment, a message or a document names exists, and
 * nothing points outside the repository to a sibling folder (a fresh clone has nothing beside it).
 */
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');

/** Folders and top-level files whose text is scanned (not node_modules, build output or binary data). */
const SCANNED = ['src', 'scripts', 'bin', 'test', 'bench', 'examples', 'docs', 'deploy', 'orthanc-config', 'proto', '.ci', 'README.md', 'SECURITY.md', 'package.json', 'jest.config.js'];
const TEXT = /\.(ts|js|cjs|mjs|py|sh|md|json|ya?ml|proto|txt|html|css|service|conf|toml)$|(^|\/)(Dockerfile[^/]*|run|orthanc-t3)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.cache', 'eval', 'validation', 'debian', '__pycache__']);
/** Top-level folders whose paths are checked when a text names them. */
const ROOTS = ['docs', 'src', 'scripts', 'bin', 'test', 'bench', 'examples', 'deploy', 'orthanc-config', 'proto', 'bundles', 'samples'];
/**
 * Paths that commands create and git ignores, named on purpose by the texts that say how to make them.
 */
const GENERATED = [
  'bundles/demo-trained/validation', // scripts/train-demo/train_demo.py --splits-only
  'test/fixtures/debian', // scripts/install-debian-packages.sh --test (a GPL-3+ image, not redistributed)
  'test-output',
  'bench-results',
  'deploy/pki', // deploy/make-pki.sh
  // Output folders that the examples tell the user to choose.
  'bundles/my-clip',
  'bundles/my-chest-clip',
];

function textFiles(entry: string): string[] {
  const full = path.join(repoRoot, entry);
  if (!fs.existsSync(full)) return [];
  if (fs.statSync(full).isFile()) return [entry];
  const out: string[] = [];
  for (const name of fs.readdirSync(full).sort()) {
    const rel = path.posix.join(entry, name);
    const stat = fs.statSync(path.join(repoRoot, rel));
    if (stat.isDirectory()) {
      if (!SKIPPED_DIRS.has(name)) out.push(...textFiles(rel));
    } else if (TEXT.test(rel) && stat.size < 4 * 1024 * 1024) {
      out.push(rel);
    }
  }
  return out;
}

// A path starts at a root folder name that is not itself part of a longer path, URL or absolute path.
const PATH = new RegExp(`(?<![\\w./@$~-])(?:${ROOTS.map((r) => r.replace(/[-.]/g, '\\$&')).join('|')})/[\\w./-]*`, 'g');

/** Trims what a sentence adds after a path: a full stop, a trailing slash, a dot before a closing quote. */
function clean(match: string): string {
  return match.replace(/[./]+$/, '');
}

const files = SCANNED.flatMap(textFiles).filter((f) => f !== 'test/repo/referenced-paths.test.ts');

describe('paths named in the repository exist', () => {
  test('there is something to scan', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'src/cli/demo.ts', 'docs/T3.md']));
  });

  test('every repository path in a comment, message or document exists', () => {
    const missing: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
      for (const m of text.matchAll(PATH)) {
        const named = clean(m[0]);
        if (!named.includes('/') || GENERATED.some((g) => named === g || named.startsWith(`${g}/`))) continue;
        if (fs.existsSync(path.join(repoRoot, named))) continue;
        const line = text.slice(0, m.index).split('\n').length;
        missing.push(`${file}:${line}: ${named}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('no relative path leads out of the repository (a fresh clone has nothing beside it)', () => {
    // A path climbs from the folder of the file that names it, as `../x` in a text or `'..', 'x'` in path.join.
    const climbs = [/(?<![\w.])((?:\.\.\/)+)([\w-][\w.-]*)/g, /((?:['"]\.\.['"],\s*)+)['"]([\w-][\w.-]*)['"]/g];
    const outside: string[] = [];
    // The plugin's pages and routes name URLs under Orthanc's HTTP root (`../../app/`), not files.
    for (const file of files.filter((f) => !f.startsWith('orthanc-config/plugin/'))) {
      const lines = fs.readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const re of climbs) {
          for (const m of line.matchAll(re)) {
            const ups = (m[1].match(/\.\./g) ?? []).length;
            const target = path.resolve(repoRoot, path.dirname(file), ...Array<string>(ups).fill('..'), m[2]);
            if (path.relative(repoRoot, target).startsWith('..')) outside.push(`${file}:${i + 1}: ${line.trim()}`);
          }
        }
      });
    }
    expect(outside).toEqual([]);
  });
});
