// counters.ts: the kernel counters, read from their one definition (HTTPLAT_COUNTERS in
// bpf/httplat.h), so a counter added there gets its health panels at the next `make grafana`.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type CounterKind = 'loss' | 'giveup' | 'oddity' | 'info';

export interface Counter {
  name: string; // X-macro NAME (HTTPLAT_C_<NAME>)
  column: string; // httplat_health column kernel_<column>
  kind: CounterKind;
  meaning: string;
}

const KINDS: Readonly<Record<string, CounterKind>> = {
  HTTPLAT_CK_LOSS: 'loss',
  HTTPLAT_CK_GIVEUP: 'giveup',
  HTTPLAT_CK_ODDITY: 'oddity',
  HTTPLAT_CK_INFO: 'info',
};

export const HEADER = path.resolve(__dirname, '..', '..', '..', 'bpf', 'httplat.h');

/** The X(NAME, column, kind, "meaning") entries of `#define HTTPLAT_COUNTERS(X)`. */
export function parseCounters(text: string): Counter[] {
  const start = text.search(/^#define\s+HTTPLAT_COUNTERS\(X\)/m);
  if (start < 0) throw new Error('bpf/httplat.h: no #define HTTPLAT_COUNTERS(X)');
  // the macro runs to the first line that does not end in a backslash
  const lines: string[] = [];
  for (const line of text.slice(start).split('\n')) {
    lines.push(line);
    if (!/\\\s*$/.test(line)) break;
  }
  const body = lines.join('\n').replace(/\/\*[\s\S]*?\*\//g, ' ');
  const entry = /\bX\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)/g;
  const out: Counter[] = [];
  for (const m of body.matchAll(entry)) {
    const [, name, column, kindName, meaning] = m;
    const kind = KINDS[kindName ?? ''];
    if (!name || !column || meaning === undefined || !kind) {
      throw new Error(`bpf/httplat.h: HTTPLAT_COUNTERS entry ${m[0]}: unknown kind`);
    }
    out.push({ name, column, kind, meaning: meaning.replace(/\\(.)/g, '$1') });
  }
  const xs = (body.match(/\bX\(/g) ?? []).length;
  if (out.length === 0 || out.length !== xs) {
    throw new Error(`bpf/httplat.h: read ${out.length} of ${xs} HTTPLAT_COUNTERS entries`);
  }
  const cols = new Set(out.map((c) => c.column));
  if (cols.size !== out.length) throw new Error('bpf/httplat.h: duplicate counter column');
  return out;
}

export function readCounters(file = HEADER): Counter[] {
  return parseCounters(fs.readFileSync(file, 'utf8'));
}
