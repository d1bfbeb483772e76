// Helpers of the upload tests: bookings of random images in the watch folder, the agent's config
// for the upload receiver, and every document the agent recorded.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DocumentBuffer } from '../../agent/buffer/buffer.ts';
import { writeConfig, type TestConfig } from './config.ts';
import { BOOTH } from './documents.ts';
import type { UploadReceiver } from './upload-receiver.ts';

/** The fields of recorded documents the upload tests look at. */
export interface Doc {
  event: { dataset: string; action?: string };
  booking: Record<string, number | string>;
  file?: { name: string; size?: number };
  upload?: { outcome: string; speed_mb_s: number; bytes: number; attempt: number; duration_ms: number };
  http?: { response: { status_code: number } };
  error?: { type: string; message: string };
  speed?: { current_mb_s: number; baseline_mb_s: number; window_s?: number };
  message?: string;
}

export const imageName = (i: number): string => `IMG_${String(i).padStart(4, '0')}.jpg`;

/** Writes images IMG_<first>… of the given sizes into <watch_dir>/<booking>; the marker too unless `marker` is false. */
export function writeBooking(cfg: TestConfig, booking: string, sizes: number[], opts: { marker?: boolean; first?: number } = {}): string[] {
  const dir = path.join(cfg.watchDir, booking);
  fs.mkdirSync(dir, { recursive: true });
  const names = sizes.map((size, i) => {
    const name = imageName((opts.first ?? 1) + i);
    fs.writeFileSync(path.join(dir, name), crypto.randomBytes(size));
    return name;
  });
  if (opts.marker ?? true) fs.writeFileSync(path.join(dir, '.complete'), '');
  return names;
}

/** Every document recorded, parsed, with its raw body. */
export function documents(stateDir: string): (Doc & { raw: string })[] {
  const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH, check: false });
  try {
    return [...buffer.documents()].map((e) => ({ ...(JSON.parse(e.body) as Doc), raw: e.body }));
  } finally {
    buffer.close();
  }
}

export async function waitUntil(ok: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A config uploading to the receiver, with short settle and retry times. */
export function uploadConfig(dir: string, receiver: UploadReceiver, extra: Record<string, unknown> = {}): TestConfig {
  return writeConfig(dir, {
    uploads: { url: receiver.urlTemplate, settle_time: '200ms', booking_idle_timeout: '1m', retry: { attempts: 6, min_delay: '100ms', max_delay: '1s' }, ...extra },
  });
}
