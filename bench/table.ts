// Prints benchmark results as a table: what was measured, the figure, the target, and whether it was met.
export interface Result {
  name: string;
  value: number;
  unit: string;
  /** The figure must be at least (>=) or at most (<=) this. */
  target?: { op: '>=' | '<=' | '<'; value: number };
}

export function printTable(results: Result[]): void {
  const rows = results.map((r) => [
    r.name,
    `${format(r.value)} ${r.unit}`,
    r.target ? `${r.target.op} ${format(r.target.value)} ${r.unit}` : '',
    r.target ? (met(r) ? 'ok' : 'MISSED') : '',
  ]);
  const header = ['benchmark', 'measured', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

export function met(r: Result): boolean {
  if (!r.target) return true;
  if (r.target.op === '<') return r.value < r.target.value;
  return r.target.op === '>=' ? r.value >= r.target.value : r.value <= r.target.value;
}

function format(n: number): string {
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}
