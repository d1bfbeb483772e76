// Numbers as the report page writes them, in its charts' labels and in its tables alike: one place,
// so that a speed reads the same in a marker's label, a group's caption and the incidents table.

/** MB/s on the page: 12.0, 0.90, 0.045 (small speeds keep two significant digits). */
export function mb(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : String(Number(v.toPrecision(2)));
}

export function ratio(now: number, usual: number): string {
  if (!(now > 0 && usual > 0)) return '–';
  return now < usual ? `÷${(usual / now).toFixed(1)}` : `×${(now / usual).toFixed(1)}`;
}

export function pct(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)} %` : '–';
}

export function seconds(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** 31480 → "31,480": the same on every machine, whatever its locale (no Intl). */
export function thousands(v: number): string {
  return String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function withUnit(value: string, unit: string): string {
  return unit ? `${value} ${unit}` : value;
}
