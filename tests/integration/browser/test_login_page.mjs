// Browser end-to-end of the secured page: headless Chromium against a daemon
// with a password file and no anonymous clients (--allow-anonymous false).
//   1. Anonymous, the page's commands are refused and STOMP/MQTT do not come up.
//   2. Logged in with the form (alice's password), all three connections come
//      up and "on" switches the LED.
//   3. A page of another site (served by this test from its own loopback
//      port, so another origin on the same network, as a LAN attacker's page
//      would be) opening ws://127.0.0.1:<port>/ is refused with 403: the
//      browser sees an error, never an open socket.
// Env as test_led_page.mjs; skips (77) without chromium / playwright-core.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { browserTestSetup, CHROMIUM, CHROMIUM_ARGS, startDaemon } from './support.mjs';

const { env: { DUPLEX_BIN: bin, DUPLEX_WEB_ROOT: webRoot, DUPLEX_ARTIFACTS: artifacts }, chromium } =
  browserTestSetup(['DUPLEX_BIN', 'DUPLEX_WEB_ROOT', 'DUPLEX_ARTIFACTS']);

const scratch = mkdtempSync(path.join(os.tmpdir(), 'duplex-login-page-'));
const passwords = path.join(scratch, 'passwords');
execFileSync(bin, ['passwd', '-c', '-b', passwords, 'alice', 'wonderland']);

let daemon;
let browser;
let evilServer;
let failed = false;
try {
  daemon = await startDaemon(bin, ['--ws', '127.0.0.1:0', '--mqtt', 'off', '--stomp', 'off',
    '--web-root', webRoot, '--led', 'simulated', '--log-level', 'debug',
    '--allow-anonymous', 'false', '--password-file', passwords], ['ws']);
  const port = daemon.ports.ws;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 390, height: 1300 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`);

  // 1. Anonymous: the command is refused; STOMP and MQTT stay down.
  await page.waitForSelector('#st-cmd[data-state="up"]', { timeout: 10000 });
  await page.fill('#cmd-input', 'on');
  await page.click('#cmd-send');
  await page.waitForFunction(() => /#1 on → error: not authorized/.test(document.querySelector('#responses').textContent),
    null, { timeout: 5000 });
  await page.waitForTimeout(1000);
  for (const id of ['st-stomp', 'st-mqtt'])
    if (await page.getAttribute(`#${id}`, 'data-state') === 'up') throw new Error(`${id} came up without a login`);
  if (!/login refused for '' from 127\.0\.0\.1/.test(daemon.log())) throw new Error('no refusal in the broker log');
  console.log('ok: anonymous page refused (command error, STOMP and MQTT down)');

  // 2. Log in with the form: all three up, and "on" works.
  await page.fill('#login-user', 'alice');
  await page.fill('#login-pass', 'wonderland');
  await page.click('#login-form button[type="submit"]');
  for (const id of ['st-cmd', 'st-stomp', 'st-mqtt'])
    await page.waitForSelector(`#${id}[data-state="up"]`, { timeout: 10000 });
  await page.waitForFunction(() => /login → alice/.test(document.querySelector('#responses').textContent), null, { timeout: 5000 });
  await page.fill('#cmd-input', 'on');
  await page.click('#cmd-send');
  await page.waitForFunction(() => / on → on/.test(document.querySelector('#responses').textContent), null, { timeout: 5000 });
  await page.waitForSelector('#led[data-state="on"]', { timeout: 5000 });
  if ((await page.textContent('#login-state')) !== 'as alice') throw new Error('login state not shown');
  console.log('ok: logged in as alice over commands, STOMP and MQTT; the LED is on');

  // 3. Another site's page: refused before any WebSocket opens.
  evilServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>another site</title>');
  });
  await new Promise((resolve) => evilServer.listen(0, '127.0.0.1', resolve));
  const evilOrigin = `http://127.0.0.1:${evilServer.address().port}`;
  const evil = await browser.newPage();
  await evil.goto(evilOrigin + '/');
  const crossSite = await evil.evaluate((p) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p}/`);
    ws.onopen = () => resolve('open');
    ws.onerror = () => resolve('error');
    setTimeout(() => resolve('timeout'), 5000);
  }), port);
  if (crossSite !== 'error') throw new Error(`cross-site WebSocket: ${crossSite}, expected error`);
  if (!daemon.log().includes(`WebSocket upgrade refused (403): Origin '${evilOrigin}' not allowed`))
    throw new Error('no Origin refusal in the log');
  console.log('ok: a WebSocket from another site is refused (403)');

  mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, 'login-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  if (pageErrors.length) throw new Error('page errors: ' + pageErrors.join(' | '));
} catch (e) {
  failed = true;
  console.error('FAIL:', e);
} finally {
  if (browser) await browser.close();
  if (evilServer) evilServer.close();
  if (daemon) daemon.proc.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
