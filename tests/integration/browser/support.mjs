// What the browser tests share: starting the daemon on ephemeral loopback
// ports (resolved with the ports it reports, in `listening <kind> <host>:<port>`
// lines) and launching Debian's headless Chromium.
import { spawn } from 'node:child_process';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Starts `bin args`, echoing its output as "[broker] ..." lines; resolves with
// {proc, ports, log()} once every listener kind in `kinds` has reported.
export function startDaemon(bin, args, kinds) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ports = {};
    let buffered = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error('daemon did not report its listeners')), 10000);
    const onData = (chunk) => {
      const text = chunk.toString();
      process.stderr.write(text.replace(/^/gm, '[broker] '));
      buffered += text;
      for (const m of buffered.matchAll(/listening (\w+) 127\.0\.0\.1:(\d+)/g)) ports[m[1]] = Number(m[2]);
      if (!done && kinds.every((k) => ports[k])) {
        done = true;
        clearTimeout(timer);
        resolve({ proc, ports, log: () => buffered });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => { if (!done) reject(new Error(`daemon exited (${code}) before listening`)); });
  });
}
