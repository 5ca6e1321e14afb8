// Compiles seed_customer_jwt.ts with the real `typescript` compiler (CommonJS output, as a TypeScript
// project targeting Node would) and runs it with Node's own `require`, so `import * as jwt from
// 'jsonwebtoken'` resolves to the real package. The CUSTOMER_* variables come from the environment.
// Prints {"token": "..."}; with SEED_VARIANTS (a JSON list of CUSTOMER_* overrides) it runs the example
// once per variant and prints {"tokens": [...]} (compiling once: the compiler is the slow part).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ts from 'typescript';

const source = readFileSync(new URL('./seed_customer_jwt.ts', import.meta.url), 'utf8');
const { outputText, diagnostics } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, strict: true },
  reportDiagnostics: true,
  fileName: 'seed_customer_jwt.ts',
});
if (diagnostics && diagnostics.length) {
  throw new Error(ts.formatDiagnostics(diagnostics, ts.createCompilerHost({})));
}
const require = createRequire(import.meta.url);
const run = new Function('require', 'module', 'exports', outputText);

const signWith = (overrides) => {
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
};

if (process.env.SEED_VARIANTS) {
  console.log(JSON.stringify({ tokens: JSON.parse(process.env.SEED_VARIANTS).map(signWith) }));
} else {
  console.log(JSON.stringify({ token: signWith({}) }));
}
