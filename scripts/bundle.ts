// `npm run bundle`: the agent module alone (dist/bundle/booth-agent.mjs, what the benchmarks run);
// with `--arch x64|arm64|all` (repeatable), also the self-contained tarball(s) for booths
// (scripts/package.ts). `--out DIR` puts the tarballs elsewhere; `--version V` overrides package.json's.
import { parseArgs } from 'node:util';
import { bundle } from './agent-module.ts';
import { ARCHES, packageBundle, type Arch } from './package.ts';

export { bundle, BUNDLE } from './agent-module.ts';

const { values } = parseArgs({ options: { arch: { type: 'string', multiple: true }, out: { type: 'string' }, version: { type: 'string' } } });
await bundle();
const wanted = (values.arch ?? []).flatMap((a) => (a === 'all' ? [...ARCHES] : [a]));
for (const arch of wanted) {
  if (!(ARCHES as readonly string[]).includes(arch)) throw new Error(`--arch ${arch}: expected one of ${ARCHES.join(', ')} or all`);
  const started = performance.now();
  const r = await packageBundle({ arch: arch as Arch, outDir: values.out, version: values.version, log: (l) => console.log(l) });
  const mb = (n: number) => (n / 1e6).toFixed(1);
  console.log(`${r.file}: ${mb(r.bytes)} MB (${mb(r.unpackedBytes)} MB unpacked), ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
