// Browser end-to-end over TLS: headless Chromium loads the demo page over
// https:// from the wss listener; the page's own clients (@stomp/stompjs and
// mqtt.js, plus the commands WebSocket) then connect over wss:// to the same
// port. "on" must come back as a response and as STOMP and MQTT
// notifications. The test CA is trusted only through the server key's SPKI
// hash (--ignore-certificate-errors-spki-list); a browser without that flag
// must refuse the page (so the check can fail). The PKI is made per run by
// ../tls_pki.py (openssl CLI) in a temporary directory and removed.
//
// Env: DUPLEX_BIN (daemon), DUPLEX_WEB_ROOT (web/). Exits 77 (skipped)
// without chromium, playwright-core or the page's npm packages (1 under CI).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingPeer } from '../peers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const HERE = path.dirname(fileURLToPath(import.meta.url));

for (const v of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) delete process.env[v];
const bin = process.env.DUPLEX_BIN;
const webRoot = process.env.DUPLEX_WEB_ROOT;
if (!bin || !webRoot) {
  console.error('DUPLEX_BIN and DUPLEX_WEB_ROOT must be set (meson test does)');
  process.exit(1);
}
if (!existsSync(CHROMIUM)) missingPeer(`chromium (${CHROMIUM})`, 'apt install chromium');
for (const f of ['node_modules/mqtt/dist/mqtt.min.js', 'node_modules/@stomp/stompjs/bundles/stomp.umd.min.js'])
  if (!existsSync(path.join(webRoot, f))) missingPeer(path.join(webRoot, f), 'npm install in web/: tools/setup');
let chromium;
try {
  const require = createRequire(import.meta.url);
  ({ chromium } = require('playwright-core'));
} catch (e) {
  missingPeer('playwright-core', 'npm install in tests/integration/browser: tools/setup');
}

const pkiDir = mkdtempSync(path.join(os.tmpdir(), 'duplex-browser-tls-'));
execFileSync('/usr/bin/python3', [path.join(HERE, '..', 'tls_pki.py'), pkiDir], { stdio: 'ignore' });
const pem = readFileSync(path.join(pkiDir, 'server.crt'));
const spki = createHash('sha256')
  .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
  .digest('base64');

function startDaemon() {
  return new Promise((resolve, reject) => {
    const args = ['--ws', 'off', '--mqtt', 'off', '--stomp', 'off', '--wss', '127.0.0.1:0',
      '--tls-cert-file', path.join(pkiDir, 'server.crt'), '--tls-key-file', path.join(pkiDir, 'server.key'),
      '--web-root', webRoot, '--led', 'simulated', '--log-level', 'debug'];
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('daemon did not report its listener')), 10000);
    const onData = (chunk) => {
      const text = chunk.toString();
      process.stderr.write(text.replace(/^/gm, '[broker] '));
      buffered += text;
      const m = buffered.match(/listening wss 127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`daemon exited (${code}) before listening`)));
  });
}

const baseArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
let daemon;
let browser;
let failed = false;
try {
  daemon = await startDaemon();
  const url = `https://127.0.0.1:${daemon.port}/`;

  // Without trusting the test CA's server key, the page must not load.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: baseArgs });
  let refused = false;
  try {
    await (await browser.newPage()).goto(url, { timeout: 10000 });
  } catch (e) {
    refused = /ERR_CERT/.test(String(e));
    if (!refused) throw e;
  }
  if (!refused) throw new Error('the page loaded although its certificate is not trusted');
  await browser.close();

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...baseArgs, `--ignore-certificate-errors-spki-list=${spki}`],
  });
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(url);
  for (const id of ['st-cmd', 'st-stomp', 'st-mqtt'])
    await page.waitForSelector(`#${id}[data-state="up"]`, { timeout: 15000 });
  if (sockets.length < 3 || !sockets.every((u) => u.startsWith('wss://')))
    throw new Error('expected three wss:// connections, got ' + JSON.stringify(sockets));

  await page.fill('#cmd-input', 'on');
  await page.click('#cmd-send');
  await page.waitForFunction(() => /#1 on → on/.test(document.querySelector('#responses').textContent), null, { timeout: 5000 });
  await page.waitForFunction(() => /\/topic\/led\/events .*"command":"on".*"ok":true/.test(document.querySelector('#stomp').textContent), null, { timeout: 5000 });
  await page.waitForFunction(() => /led\/events .*"command":"on".*"ok":true/.test(document.querySelector('#mqtt').textContent), null, { timeout: 5000 });
  console.log(`ok: page over https, stompjs + mqtt.js + commands over wss (${sockets.join(', ')})`);
  if (consoleErrors.length) throw new Error('console errors: ' + consoleErrors.join(' | '));
} catch (e) {
  failed = true;
  console.error('FAIL:', e);
} finally {
  if (browser) await browser.close();
  if (daemon) daemon.proc.kill('SIGTERM');
  rmSync(pkiDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
