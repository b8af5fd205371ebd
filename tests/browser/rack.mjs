// The virtual rack (tests/rack, control protocol in tests/rack/README.md) with the real
// flashrackd inside it, driven from node: the browser test's counterpart of
// tests/e2e/lib.sh.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export class VirtualRack {
  // config: the daemon's config file; log: where the daemon's output goes.
  constructor({ buildDir, config, log, daemon }) {
    this.log = log;
    const rackBin = `${buildDir}/tests/rack/flashrack-rack`;
    const daemonBin = daemon || `${buildDir}/daemon/flashrackd`;
    // FLASHRACK_RACK_VERBOSE=1: the rack's own events ("rack <ms>: ...") on stderr
    const verbose = process.env.FLASHRACK_RACK_VERBOSE === '1' ? ['--verbose'] : [];
    this.proc = spawn('umockdev-wrapper', [rackBin, ...verbose, '--daemon-log', log, '--', daemonBin, '--config', config], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = [];
    this.waiters = [];
    this.exited = null;
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiters.shift();
      if (w) w.resolve(line);
      else this.lines.push(line);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      for (const w of this.waiters.splice(0)) w.reject(new Error(`the rack exited (${code ?? signal})`));
    });
  }

  // Sends one command and returns its reply; throws unless the reply starts with "ok".
  async cmd(line, timeoutMs = 120000) {
    if (this.exited) throw new Error(`the rack exited before '${line}'`);
    this.proc.stdin.write(`${line}\n`);
    const reply = this.lines.length
      ? this.lines.shift()
      : await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply from the rack to '${line}'`)), timeoutMs);
        this.waiters.push({
          resolve: (v) => { clearTimeout(timer); resolve(v); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        });
      });
    if (!reply.startsWith('ok')) throw new Error(`rack '${line}' answered: ${reply}`);
    return reply;
  }

  // The HTTP port the daemon logged ("http: listening on http://127.0.0.1:PORT"): the last
  // one, so it is right after a restart too.
  port() {
    const all = [...readFileSync(this.log, 'utf8').matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)];
    if (!all.length) throw new Error('the daemon did not log its HTTP address');
    return Number(all[all.length - 1][1]);
  }

  async quit() {
    if (this.exited) return this.exited;
    const reply = await this.cmd('quit', 60000);
    await new Promise((resolve) => (this.exited ? resolve() : this.proc.on('exit', resolve)));
    return reply;
  }

  kill() {
    if (!this.exited) this.proc.kill('SIGTERM');
  }
}

// A valid IMEI (Luhn check digit) from a test TAC and the number n, as e2e_imei in lib.sh.
export function testImei(n) {
  const body = `86612305${String(n).padStart(6, '0')}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = Number(body[i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}
