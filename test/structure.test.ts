import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

// The shape of src/, held by tests: no module imports itself through others, and no function
// is longer than a reader can hold at once.

const SRC = resolve('src');
const MAX_FUNCTION_LINES = 60;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return entry.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({
  path,
  source: ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true),
}));

/** Every module of src/ a file imports: static, type-only and dynamic imports, and re-exports. */
function importsOf(path: string, source: ts.SourceFile): string[] {
  const specifiers: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      specifiers.push(node.moduleSpecifier.text);
    if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      ts.isStringLiteral(node.arguments[0]!)
    )
      specifiers.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(path), s.replace(/\.js$/, '.ts')));
}

test('src/ has no import cycle (type-only and dynamic imports included)', () => {
  const graph = new Map(files.map(({ path, source }) => [path, importsOf(path, source)]));
  const done = new Set<string>();
  const cycles: string[] = [];
  const walk = (path: string, stack: string[]) => {
    if (stack.includes(path)) {
      cycles.push(
        [...stack.slice(stack.indexOf(path)), path].map((p) => relative(SRC, p)).join(' -> '),
      );
      return;
    }
    if (done.has(path)) return;
    for (const next of graph.get(path) ?? []) walk(next, [...stack, path]);
    done.add(path);
  };
  for (const path of graph.keys()) walk(path, []);
  assert.deepEqual(cycles, []);
});

test(`no function in src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const long: string[] = [];
  for (const { path, source } of files) {
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
        if (end - start + 1 > MAX_FUNCTION_LINES)
          long.push(`${relative(SRC, path)}:${start + 1} ${name}: ${end - start + 1} lines`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(long, []);
});
