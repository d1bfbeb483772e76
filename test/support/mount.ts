// A real small file system for disk-space tests: a tmpfs of a given size (needs root, as CI has).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Mounts a tmpfs of `size` (e.g. "3m") on `dir`; false when this machine does not allow it. */
export function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether tests may mount a tmpfs here (tried once on a scratch folder). */
export function canMountTmpfs(): boolean {
  const probe = fs.mkdtempSync('/tmp/booth-agent-mount-probe-');
  try {
    const ok = tryMount(probe, '1m');
    if (ok) execFileSync('umount', [probe]);
    return ok;
  } finally {
    fs.rmdirSync(probe);
  }
}
