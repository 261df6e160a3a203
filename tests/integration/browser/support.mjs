// What the browser tests share: starting the daemon on ephemeral loopback
// ports (resolved with the ports it reports, in `listening <kind> <host>:<port>`
// lines) and launching Debian's headless Chromium.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { missingPeer } from '../peers.mjs';

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

// The environment every browser test starts from: proxies unset (loopback
// only), the env meson sets (`names`, e.g. ['DUPLEX_BIN', 'DUPLEX_WEB_ROOT']),
// and the peers: Debian's chromium, playwright-core, the page's npm clients.
// Exits 1 without the env; 77 (skipped), or 1 under CI, without a peer.
// Returns {env: {NAME: value}, chromium}.
export function browserTestSetup(names) {
  for (const v of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) delete process.env[v];
  const env = {};
  for (const n of names) {
    env[n] = process.env[n];
    if (!env[n]) {
      console.error(`${names.join(', ')} must be set (meson test does)`);
      process.exit(1);
    }
  }
  if (!existsSync(CHROMIUM)) missingPeer(`chromium (${CHROMIUM})`, 'apt install chromium');
  const webRoot = env.DUPLEX_WEB_ROOT;
  for (const f of ['node_modules/mqtt/dist/mqtt.min.js', 'node_modules/@stomp/stompjs/bundles/stomp.umd.min.js'])
    if (!existsSync(path.join(webRoot, f))) missingPeer(path.join(webRoot, f), 'npm install in web/: tools/setup');
  let chromium;
  try {
    const require = createRequire(import.meta.url);
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    missingPeer('playwright-core', 'npm install in tests/integration/browser: tools/setup');
  }
  return { env, chromium };
}
