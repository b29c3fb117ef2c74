// main.ts: writes (or with --check compares) every generated Grafana file under deploy/grafana/.
//   node build/main.js          write dashboards/*.json and provisioning/alerting/httplat.yaml
//   node build/main.js --check  exit 1, naming the files, when the committed ones differ
// Options (for tests): --counters FILE reads HTTPLAT_COUNTERS from FILE instead of
// bpf/httplat.h; --out DIR writes (or checks) under DIR instead of deploy/grafana.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';

import { ALERTING_HEADER, alertingFile } from './alerts';
import { Counter, HEADER, readCounters } from './counters';
import { dashboards } from './dashboards';

const HERE = path.resolve(__dirname, '..'); // deploy/grafana (this file runs from build/)

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Plain data: drops what JSON drops (the SDK's variant marker methods, undefined). */
function plain(v: unknown): Json {
  return JSON.parse(JSON.stringify(v)) as Json;
}

/** Keys sorted at every level, so SDK upgrades that reorder fields do not churn the files. */
function sorted(v: Json): Json {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== 'object') return v;
  const out: { [key: string]: Json } = {};
  for (const k of Object.keys(v).sort()) out[k] = sorted(v[k] as Json);
  return out;
}

function render(counters: readonly Counter[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, dash] of dashboards(counters)) {
    files.set(path.join('dashboards', name), JSON.stringify(sorted(plain(dash)), null, 2) + '\n');
  }
  // YAML 1.1 as Grafana's parser (gopkg.in/yaml.v2) reads it: '=', 'yes', 'on' stay strings
  const doc = new YAML.Document(plain(alertingFile()), { version: '1.1' });
  // and a bare '=' (a matcher's operator) quoted: PyYAML reads it as its 'value' type
  YAML.visit(doc, {
    Scalar(_, node) {
      if (node.value === '=') node.type = 'QUOTE_DOUBLE';
    },
  });
  doc.commentBefore = ALERTING_HEADER.split('\n').map((l) => (l ? ` ${l}` : '')).join('\n');
  files.set(path.join('provisioning', 'alerting', 'httplat.yaml'),
    doc.toString({ lineWidth: 0 }));
  return files;
}

/** The value after `name` in argv, or def. */
function option(argv: string[], name: string, def: string): string {
  const i = argv.indexOf(name);
  if (i < 0) return def;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return path.resolve(v);
}

function main(argv: string[]): number {
  const known = new Set(['--check', '--counters', '--out']);
  argv.forEach((a, i) => {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);
    if (!a.startsWith('--') && !['--counters', '--out'].includes(argv[i - 1] ?? '')) {
      throw new Error(`unexpected argument ${a}`);
    }
  });
  const check = argv.includes('--check');
  const out = option(argv, '--out', HERE);
  const files = render(readCounters(option(argv, '--counters', HEADER)));
  const stale: string[] = [];
  for (const [rel, text] of files) {
    const file = path.join(out, rel);
    const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (have === text) continue;
    if (check) {
      stale.push(rel);
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`  GEN      ${out === HERE ? `deploy/grafana/${rel}` : file}`);
    }
  }
  const dir = path.join(out, 'dashboards');
  const extra = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((n) =>
    n.endsWith('.json') && !files.has(path.join('dashboards', n)));
  for (const n of extra) stale.push(`dashboards/${n} (not generated: remove it)`);
  if (stale.length) {
    console.error('deploy/grafana: these files differ from what the generator writes ' +
      `(run \`make grafana\` and commit them):\n  ${stale.join('\n  ')}`);
    return 1;
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.error(`deploy/grafana: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 2;
}
