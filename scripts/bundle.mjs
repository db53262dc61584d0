#!/usr/bin/env node
// Second step of `npm run build` (after tsc): bundles the server's entry
// point, dist/main.js, with everything it imports (our ~75 modules and the
// CommonJS packages proper-lockfile, graceful-fs, retry, signal-exit and
// dotenv) into one file, dist/server.mjs, which bin/memcached-lite loads.
// Node then reads and compiles one file in one step instead of resolving and
// linking about 80 modules one by one, which was most of what importing the
// server cost before main() could run.
//
// - The offline tools, which main.ts loads only for a tool run
//   (`await import('./cli/tools.js')`), are a second bundle, dist/tools.mjs,
//   that server.mjs imports by that name. Were they inlined instead, esbuild
//   would wrap every module they share with the server (engine, WAL,
//   snapshots) in a lazy-init function (`__esm`), which keeps their
//   top-level constants mutable variables: see the last point.
// - dotenv (loaded only when ./.env exists) and node:tls (only with TLS)
//   stay lazy: dotenv is in the file but runs only when first imported.
// - The CommonJS packages call require() for Node's built-ins; an ES module
//   has no require, so the banner makes one (createRequire) for them.
// - When bundling, esbuild turns every top-level `const`, `let` and `class`
//   into `var` (a choice it makes for other engines' sake, with no option).
//   V8's optimizing compiler can fold a module-level `const` into the code
//   as a constant, not a `var`, so hot code that reads module constants (the
//   snapshot decoder's base64 table, the item table's constants) got slower:
//   restoring 1M items took about 10% (~100 ms) longer. So each
//   top-level `var` that is declared once, with a value, and never assigned
//   anywhere in the file becomes `const` again (restoreConsts below). Its
//   line in the source map is then off by two columns.
//
// dist/server.mjs.map and dist/tools.mjs.map map back, through tsc's maps, to
// src/*.ts (read only with node --enable-source-maps).

import { build } from 'esbuild';
import ts from 'typescript';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};

/** main.js's `import('./cli/tools.js')` loads the tools bundle, beside server.mjs. */
const toolsAsSeparateBundle = {
  name: 'tools-as-separate-bundle',
  setup(b) {
    b.onResolve({ filter: /^\.\/cli\/tools\.js$/ }, (args) => (args.importer.endsWith(join('dist', 'main.js')) ? { path: './tools.mjs', external: true } : undefined));
  },
};

await Promise.all([
  build({ ...common, entryPoints: ['dist/main.js'], outfile: 'dist/server.mjs', plugins: [toolsAsSeparateBundle] }),
  build({ ...common, entryPoints: ['dist/cli/tools.js'], outfile: 'dist/tools.mjs' }),
]);

for (const out of ['dist/server.mjs', 'dist/tools.mjs']) {
  const path = join(root, out);
  let text = readFileSync(path, 'utf8');
  if (text.includes('= __esm(')) {
    throw new Error(`${out}: esbuild wrapped modules in lazy-init functions (__esm), which keeps their constants mutable: ` +
      'a module of ours is imported both statically and with import(); load the dynamic one from a separate bundle, as tools.mjs');
  }
  text = restoreConsts(text);
  writeFileSync(path, text);
}

/** Rewrites `var` to `const` in each top-level declaration whose names are declared once, with a value, and never assigned (by name, anywhere in the file). */
function restoreConsts(text) {
  const file = ts.createSourceFile('bundle.mjs', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const assigned = new Set();
  const addTarget = (node) => {
    if (ts.isIdentifier(node)) assigned.add(node.text);
    else if (ts.isParenthesizedExpression(node)) addTarget(node.expression);
    else if (ts.isArrayLiteralExpression(node)) node.elements.forEach((e) => addTarget(ts.isSpreadElement(e) ? e.expression : e));
    else if (ts.isObjectLiteralExpression(node)) {
      for (const p of node.properties) {
        if (ts.isShorthandPropertyAssignment(p)) assigned.add(p.name.text);
        else if (ts.isPropertyAssignment(p)) addTarget(p.initializer);
        else if (ts.isSpreadAssignment(p)) addTarget(p.expression);
      }
    } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken) addTarget(node.left); // a default in a pattern
  };
  const visit = (node) => {
    const op = ts.isBinaryExpression(node) ? node.operatorToken.kind : undefined;
    if (op !== undefined && op >= ts.SyntaxKind.FirstAssignment && op <= ts.SyntaxKind.LastAssignment) addTarget(node.left);
    else if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node))
      && (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)) addTarget(node.operand);
    else if ((ts.isForInStatement(node) || ts.isForOfStatement(node)) && !ts.isVariableDeclarationList(node.initializer)) addTarget(node.initializer);
    ts.forEachChild(node, visit);
  };
  visit(file);
  const declarations = new Map();
  for (const s of file.statements) {
    if (!ts.isVariableStatement(s)) continue;
    for (const d of s.declarationList.declarations) if (ts.isIdentifier(d.name)) declarations.set(d.name.text, (declarations.get(d.name.text) ?? 0) + 1);
  }
  const at = [];
  for (const s of file.statements) {
    if (!ts.isVariableStatement(s) || (s.declarationList.flags & ts.NodeFlags.BlockScoped) !== 0) continue;
    const constant = s.declarationList.declarations.every((d) => ts.isIdentifier(d.name) && d.initializer !== undefined
      && !assigned.has(d.name.text) && declarations.get(d.name.text) === 1);
    const start = s.declarationList.getStart(file);
    if (constant && text.startsWith('var', start)) at.push(start);
  }
  for (const start of at.reverse()) text = `${text.slice(0, start)}const${text.slice(start + 3)}`;
  return text;
}
