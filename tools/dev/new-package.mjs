#!/usr/bin/env node
// Scaffolds a workspace package with the house layout (STYLE.md §1–8):
//   node tools/dev/new-package.mjs packages/rle @unet/rle "Kaggle run-length encoding"
import { mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'

const [dir, name, description, kind = 'package'] = process.argv.slice(2)
if (!dir || !name || !description) {
  console.error('usage: new-package.mjs <dir> <@unet/name> "<description>" [package|app]')
  process.exit(2)
}
if (existsSync(join(dir, 'package.json'))) {
  console.error(`${dir}/package.json exists; not overwriting`)
  process.exit(2)
}
const depth = dir.split('/').filter(Boolean).length
const up = '../'.repeat(depth)
mkdirSync(join(dir, 'src'), { recursive: true })
const isApp = kind === 'app'
const pkg = {
  name,
  version: '0.0.0',
  description,
  ...(isApp ? { private: true } : {}),
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  engines: { node: '>=20' },
  ...(isApp
    ? {}
    : {
        main: './dist/index.cjs',
        module: './dist/index.js',
        types: './dist/index.d.ts',
        exports: {
          '.': {
            import: { types: './dist/index.d.ts', default: './dist/index.js' },
            require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
          },
          './package.json': './package.json',
        },
        files: ['dist'],
        publishConfig: { access: 'public' },
      }),
  repository: { type: 'git', url: 'git+https://github.com/unet-toolkit/unet.git', directory: dir },
  scripts: {
    build: 'tsup',
    test: 'vitest run',
    typecheck: 'tsc --noEmit',
    ...(isApp ? {} : { lint: 'publint --strict && attw --pack . --profile node16' }),
  },
  dependencies: {},
  devDependencies: {},
}
writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({ extends: `${up}tsconfig.base.json`, include: ['src', '*.ts'] }, null, 2) + '\n',
)
writeFileSync(
  join(dir, 'tsup.config.ts'),
  `import { packageConfig } from '${up}tools/build/tsup'\n\nexport default packageConfig()\n`,
)
writeFileSync(
  join(dir, 'vitest.config.ts'),
  `import { defineProject } from 'vitest/config'\n\nexport default defineProject({\n  test: { name: '${name}' },\n})\n`,
)
writeFileSync(join(dir, 'src/index.ts'), `export {}\n`)
writeFileSync(join(dir, 'README.md'), `# ${name}\n\n${description}\n`)
if (!isApp) writeFileSync(join(dir, 'CHANGELOG.md'), `# ${name}\n`)
console.log(`created ${name} in ${dir}`)
