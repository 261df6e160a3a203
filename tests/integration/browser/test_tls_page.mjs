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
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserTestSetup, CHROMIUM, CHROMIUM_ARGS, startDaemon } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { env: { DUPLEX_BIN: bin, DUPLEX_WEB_ROOT: webRoot }, chromium } = browserTestSetup(['DUPLEX_BIN', 'DUPLEX_WEB_ROOT']);

const pkiDir = mkdtempSync(path.join(os.tmpdir(), 'duplex-browser-tls-'));
execFileSync('/usr/bin/python3', [path.join(HERE, '..', 'tls_pki.py'), pkiDir], { stdio: 'ignore' });
const pem = readFileSync(path.join(pkiDir, 'server.crt'));
const spki = createHash('sha256')
  .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
  .digest('base64');

let daemon;
let browser;
let failed = false;
try {
  const d = await startDaemon(bin, ['--ws', 'off', '--mqtt', 'off', '--stomp', 'off', '--wss', '127.0.0.1:0',
    '--tls-cert-file', path.join(pkiDir, 'server.crt'), '--tls-key-file', path.join(pkiDir, 'server.key'),
    '--web-root', webRoot, '--led', 'simulated', '--log-level', 'debug'], ['wss']);
  daemon = { proc: d.proc, port: d.ports.wss };
  const url = `https://127.0.0.1:${daemon.port}/`;

  // Without trusting the test CA's server key, the page must not load.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
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
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`],
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
