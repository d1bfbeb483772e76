// A winston transport that writes each line synchronously to a file and rotates by size:
// agent.log → agent.log.1 → agent.log.2 …, keeping `maxFiles` files in all.
//
// Why not winston's own File transport: with `maxsize`, lines written in a burst while it rotates
// are lost (winstonjs/winston#1655, #761), and files overshoot the bound. A daemon logs a few
// lines a minute; a synchronous append is cheap and leaves nothing in memory at a crash.
import fs from 'node:fs';
import Transport from 'winston-transport';

// winston's key for the formatted line (triple-beam's MESSAGE).
const MESSAGE = Symbol.for('message');

export interface RotatingFileOptions {
  filename: string;
  maxSizeBytes: number;
  maxFiles: number;
}

export class RotatingFileTransport extends Transport {
  private fd: number;
  private size: number;
  private readonly opts: RotatingFileOptions;

  constructor(opts: RotatingFileOptions) {
    super();
    this.opts = opts;
    this.fd = fs.openSync(opts.filename, 'a', 0o640);
    this.size = fs.fstatSync(this.fd).size;
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const line = Buffer.from(`${String(info[MESSAGE])}\n`);
    try {
      if (this.size > 0 && this.size + line.length > this.opts.maxSizeBytes) this.rotate();
      fs.writeSync(this.fd, line);
      this.size += line.length;
    } catch (err) {
      // A full disk or a vanished folder must not take the agent down; the line is lost.
      this.emit('warn', err);
    }
    callback();
  }

  override close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    const { filename, maxFiles } = this.opts;
    const name = (i: number) => (i === 0 ? filename : `${filename}.${i}`);
    fs.rmSync(name(maxFiles - 1), { force: true });
    for (let i = maxFiles - 2; i >= 0; i--) {
      if (fs.existsSync(name(i))) fs.renameSync(name(i), name(i + 1));
    }
    this.fd = fs.openSync(filename, 'a', 0o640);
    this.size = 0;
  }
}
