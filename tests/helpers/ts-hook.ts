/**
 * Source for a `node -e` child that loads lib/*.ts without a build step: a require hook that transpiles
 * TypeScript with the project's own `typescript` package, so the code runs under plain Node's CommonJS loader
 * exactly as the compiled library does in tslab. Prepend it to the child's script.
 */
export const TS_REQUIRE_HOOK = `
const ts = require('typescript'), fs = require('fs');
require.extensions['.ts'] = (m, file) => m._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), {
  fileName: file,
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
}).outputText, file);
`;
