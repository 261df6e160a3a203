// Browser end-to-end: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) loads the page the daemon serves at /, waits for its three
// connections (commands WebSocket, STOMP, MQTT), sends "on" and checks the
// response, the STOMP and MQTT notifications and the LED indicator. Saves a
// screenshot to tests/artifacts/. Without chromium, playwright-core or the
// page's npm packages it exits 77 (skipped), or 1 under CI=true (../peers.mjs).
//
// Env: DUPLEX_BIN (daemon), DUPLEX_WEB_ROOT (web/), DUPLEX_ARTIFACTS (folder).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { browserTestSetup, CHROMIUM, CHROMIUM_ARGS, startDaemon } from './support.mjs';

const { env: { DUPLEX_BIN: bin, DUPLEX_WEB_ROOT: webRoot, DUPLEX_ARTIFACTS: artifacts }, chromium } =
  browserTestSetup(['DUPLEX_BIN', 'DUPLEX_WEB_ROOT', 'DUPLEX_ARTIFACTS']);

let daemon;
let browser;
let failed = false;
try {
  daemon = await startDaemon(bin, ['--ws', '127.0.0.1:0', '--mqtt', '127.0.0.1:0', '--stomp', '127.0.0.1:0',
    '--web-root', webRoot, '--led', 'simulated', '--log-level', 'debug'], ['ws', 'mqtt', 'stomp']);
  const url = `http://127.0.0.1:${daemon.ports.ws}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 390, height: 1100 } });  // a phone
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url);

  // All three connections up, and the retained LED state shown.
  for (const id of ['st-cmd', 'st-stomp', 'st-mqtt'])
    await page.waitForSelector(`#${id}[data-state="up"]`, { timeout: 10000 });
  await page.waitForSelector('#led[data-state="off"]', { timeout: 5000 });

  const t0 = Date.now();
  await page.fill('#cmd-input', 'on');
  await page.click('#cmd-send');
  await page.waitForFunction(() => /#1 on → on/.test(document.querySelector('#responses').textContent), null, { timeout: 5000 });
  const rtt = await page.textContent('#responses li .rtt');
  if (!/^\d+(\.\d+)? ms$/.test(rtt)) throw new Error(`no round-trip time on the response line: '${rtt}'`);
  await page.waitForFunction(() => /\/topic\/led\/events .*"command":"on".*"ok":true/.test(document.querySelector('#stomp').textContent), null, { timeout: 5000 });
  await page.waitForFunction(() => /led\/events .*"command":"on".*"ok":true/.test(document.querySelector('#mqtt').textContent), null, { timeout: 5000 });
  await page.waitForSelector('#led[data-state="on"]', { timeout: 5000 });
  console.log(`ok: response, STOMP and MQTT notifications and the LED within ${Date.now() - t0} ms (command rtt ${rtt})`);

  // An unknown command shows the standard error.
  await page.fill('#cmd-input', 'explode');
  await page.click('#cmd-send');
  await page.waitForFunction(() => /#2 explode → error: unknown command 'explode'/.test(document.querySelector('#responses').textContent), null, { timeout: 5000 });

  mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, 'led-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  if (consoleErrors.length) throw new Error('console errors: ' + consoleErrors.join(' | '));
} catch (e) {
  failed = true;
  console.error('FAIL:', e);
} finally {
  if (browser) await browser.close();
  if (daemon) daemon.proc.kill('SIGTERM');
}
process.exit(failed ? 1 : 0);
