import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { displayBundle } from './kernel-output.js';

/** The project's src/, where every name a notebook shows is looked up. */
export const SOURCE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** One declaration's source, as it stands in src/. */
export interface SourceSnippet {
  name: string;
  /** Path relative to the project root, e.g. src/nn/layers.ts. */
  file: string;
  /** 1-based first and last line, doc comment included. */
  startLine: number;
  endLine: number;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return entry.endsWith('.ts') && entry !== 'index.ts' ? [path] : [];
    });
}

const isExported = (node: ts.Node) =>
  ts.canHaveModifiers(node) &&
  (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

/** Top-level exported declarations of a file, by name. */
function exportedDeclarations(file: ts.SourceFile): Map<string, ts.Node> {
  const found = new Map<string, ts.Node>();
  for (const statement of file.statements) {
    if (!isExported(statement)) continue;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name)) found.set(declaration.name.text, statement);
      }
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name
    ) {
      found.set(statement.name.text, statement);
    }
  }
  return found;
}

function memberOf(declaration: ts.Node, member: string): ts.Node | undefined {
  if (!ts.isClassDeclaration(declaration)) return undefined;
  return declaration.members.find((m) =>
    member === 'constructor'
      ? ts.isConstructorDeclaration(m)
      : m.name !== undefined && ts.isIdentifier(m.name) && m.name.text === member,
  );
}

/** The node's text from its doc comment to its end, with the common indentation removed. */
function snippetOf(name: string, path: string, file: ts.SourceFile, node: ts.Node): SourceSnippet {
  // The declaration's own doc comment (the last /** */ right above it), not a file header.
  const comments = ts.getLeadingCommentRanges(file.text, node.getFullStart()) ?? [];
  const doc = comments.at(-1);
  const start = doc && file.text.startsWith('/**', doc.pos) ? doc.pos : node.getStart(file);
  const lineStart = file.text.lastIndexOf('\n', start - 1) + 1;
  const lines = file.text.slice(lineStart, node.getEnd()).split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length),
  );
  return {
    name,
    file: relative(resolve(SOURCE_ROOT, '..'), path),
    startLine: file.getLineAndCharacterOfPosition(lineStart).line + 1,
    endLine: file.getLineAndCharacterOfPosition(node.getEnd()).line + 1,
    code: lines.map((l) => l.slice(indent)).join('\n'),
  };
}

/** Levenshtein distance, for suggesting the name that was probably meant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Finds an exported function, class, interface, type or constant of src/ by name, or a class
 * member as `Class.member`. `within` narrows the search to files whose path contains it
 * (for a name exported twice). Throws one line for an unknown or ambiguous name.
 */
export function findSource(name: string, within?: string): SourceSnippet {
  const [top, member] = name.split('.', 2) as [string, string | undefined];
  const matches: SourceSnippet[] = [];
  const known: string[] = [];
  for (const path of sourceFiles(SOURCE_ROOT)) {
    if (within && !relative(SOURCE_ROOT, path).includes(within)) continue;
    const file = ts.createSourceFile(
      path,
      readFileSync(path, 'utf8'),
      ts.ScriptTarget.Latest,
      true,
    );
    const declarations = exportedDeclarations(file);
    known.push(...declarations.keys());
    const declaration = declarations.get(top);
    if (!declaration) continue;
    const node = member ? memberOf(declaration, member) : declaration;
    if (!node)
      throw new Error(
        `showCode: '${top}' in ${relative(SOURCE_ROOT, path)} has no member '${member}'`,
      );
    matches.push(snippetOf(name, path, file, node));
  }
  if (matches.length === 0) {
    const near = known
      .map((k) => [k, editDistance(k.toLowerCase(), top.toLowerCase())] as const)
      .filter(([, d]) => d <= Math.max(2, Math.floor(top.length / 4)))
      .sort((p, q) => p[1] - q[1])
      .map(([k]) => k);
    const hint = near.length > 0 ? ` (did you mean ${near.slice(0, 4).join(', ')}?)` : '';
    throw new Error(
      `showCode: nothing exported from src/${within ? ` (within '${within}')` : ''} is named '${top}'${hint}`,
    );
  }
  if (matches.length > 1) {
    throw new Error(
      `showCode: '${name}' is exported from ${matches.map((m) => m.file).join(' and ')}; pass a path to choose`,
    );
  }
  return matches[0]!;
}

/**
 * Shows the source of what a notebook is teaching, read from src/ when the cell runs: what is
 * shown is what runs. The output is markdown with a TypeScript fence, which JupyterLab,
 * Notebook 7 and nbconvert's HTML highlight.
 */
export function showCode(name: string, within?: string): void {
  const snippet = findSource(name, within);
  const where = `\`${snippet.file}\`, lines ${snippet.startLine}-${snippet.endLine}`;
  displayBundle({
    'text/markdown': `${where}\n\n\`\`\`ts\n${snippet.code}\n\`\`\``,
    'text/plain': `// ${snippet.file}:${snippet.startLine}\n${snippet.code}`,
  });
}
