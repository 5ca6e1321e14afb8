// The first seed document's TypeScript example (seed_customer_jwt.ts, unchanged) as a function: every
// script that signs a customer token calls signSeedToken, so the example exists in one place only.
//
// The .ts file is compiled with the real `typescript` compiler (CommonJS output, as a TypeScript project
// targeting Node would) and run with Node's own `require`, so `import * as jwt from 'jsonwebtoken'`
// resolves to the real package. Loading the compiler takes about a second and the Python suite starts
// these scripts many times, so the output is kept in node_modules/.cache (emptied by every `npm ci`),
// named by a hash of the source: an edited example is compiled afresh.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const SOURCE = new URL('./seed_customer_jwt.ts', import.meta.url);
const CACHE = new URL('./node_modules/.cache/seed_example/', import.meta.url);

async function compiledExample() {
  const source = readFileSync(SOURCE, 'utf8');
  const cached = new URL(`${createHash('sha256').update(source).digest('hex')}.cjs`, CACHE);
  try {
    return readFileSync(cached, 'utf8');
  } catch {
    // not compiled yet
  }
  const { default: ts } = await import('typescript');
  const { outputText, diagnostics } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, strict: true },
    reportDiagnostics: true,
    fileName: 'seed_customer_jwt.ts',
  });
  if (diagnostics && diagnostics.length) {
    throw new Error(ts.formatDiagnostics(diagnostics, ts.createCompilerHost({})));
  }
  // Written whole, then renamed: scripts started side by side never read half a file.
  mkdirSync(CACHE, { recursive: true });
  const partial = new URL(`${process.pid}.tmp`, CACHE);
  writeFileSync(partial, outputText);
  renameSync(partial, cached);
  return outputText;
}

const run = new Function('require', 'module', 'exports', await compiledExample());
const require = createRequire(import.meta.url);

// The token the example signs from the CUSTOMER_* environment variables, with `overrides` applied to
// them for this one call.
export function signSeedToken(overrides = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, overrides);
  try {
    const module = { exports: {} };
    run(require, module, module.exports);
    return module.exports.token;
  } finally {
    for (const name of Object.keys(overrides)) {
      if (name in saved) process.env[name] = saved[name]; else delete process.env[name];
    }
  }
}
