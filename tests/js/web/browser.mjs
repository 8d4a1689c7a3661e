// What every browser test of the node's web app shares: the devnet it runs against
// (HIE_WEB_DEVNET_DIR: written by `hiectl devnet up` and `devnet samples`), a headless
// chromium driven by puppeteer-core, the person-like actions (type into a labelled field,
// press a button, follow a link) and the check every main page gets: a full-page
// screenshot into HIE_WEB_SCREENSHOTS, no Content-Security-Policy violation or script
// error, and axe-core finding no serious or critical accessibility violation.
//
// Run by tests/integration/web_browser_test.cc, which brings up the devnet; by hand:
//   HIE_WEB_DEVNET_DIR=D HIE_WEB_SCREENSHOTS=S HIE_HIECTL=build/bin/hiectl \
//     node --test tests/js/web/*.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));

function requiredEnv(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: tests/integration/web_browser_test.cc sets it`);
  return value;
}

export const devnetDir = requiredEnv('HIE_WEB_DEVNET_DIR');
export const screenshotDir = requiredEnv('HIE_WEB_SCREENSHOTS');
export const hiectlPath = requiredEnv('HIE_HIECTL');
const chromiumPath = process.env.HIE_CHROMIUM || '/usr/bin/chromium';

// Every wait is bounded; a page of this app answers in well under a second, a federated
// query in a few.
export const kStepMs = 15000;

const devnet = JSON.parse(fs.readFileSync(path.join(devnetDir, 'devnet.json'), 'utf8'));

// The web app's origin at `org` ("org-a"): the node's FHIR API listener, which serves /app/.
export function origin(org) {
  const node = devnet.services.find((s) => s.role === 'node' && s.org === org);
  assert.ok(node && node.fhir_base, `devnet.json names no node with a FHIR API for ${org}`);
  return new URL(node.fhir_base).origin;
}

export function profile(org) {
  return path.join(devnetDir, 'profiles', `${org}.profile`);
}

// The demo accounts `hiectl devnet up` wrote: "org  login  role  password" lines.
export function account(org, login) {
  const text = fs.readFileSync(path.join(devnetDir, 'web-accounts.txt'), 'utf8');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const words = line.trim().split(/\s{2,}/);
    if (words[0] === org && words[1] === login) return { org, login, password: words.at(-1) };
  }
  assert.fail(`web-accounts.txt has no account ${login} at ${org}`);
}

// hiectl as the practice `org` (its profile); `input` is its stdin (a password). Throws
// with hiectl's stderr if it exits non-zero.
export function hiectl(org, args, input = '') {
  try {
    return execFileSync(hiectlPath, [...args, '--profile', profile(org)], {
      input,
      timeout: 30000,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    throw new Error(`hiectl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

// Imports FHIR R4 `resource` (a resource or a Bundle) into `org`'s node with hiectl.
export function importResource(org, resource) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hie-web-import-'));
  try {
    const file = path.join(dir, 'resource.json');
    fs.writeFileSync(file, JSON.stringify(resource));
    return hiectl(org, ['import', file]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// A password no policy refuses, different each run.
export function freshPassword() {
  return `walnut harbour ${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 10)}`;
}

// A local account of `org`'s web app whose password is final (no change at first
// sign-in); its login is `login` with a suffix of this run, so that a devnet can run the
// tests again.
export function addAccount(org, { login: prefix, name, role, patient }) {
  const password = freshPassword();
  const login = `${prefix}.${Date.now().toString(36)}`;
  const args = ['user', 'add', '--login', login, '--name', name, '--role', role, '--password-is-final'];
  if (patient) args.push('--patient', patient);
  hiectl(org, args, `${password}\n`);
  return { org, login, password };
}

// RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) of a base32 secret, at `time` (ms).
export function totp(base32Secret, time = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

// The base64 SHA-256 of the exchange CA's public key (SubjectPublicKeyInfo): chromium
// accepts a certificate chain holding that key and no other untrusted one
// (--ignore-certificate-errors-spki-list), so the browser trusts the devnet's own CA
// for this run only, without touching any certificate store, and a certificate from
// anyone else is still refused.
function caSpkiHash() {
  const ca = new X509Certificate(fs.readFileSync(devnet.ca_cert));
  const der = ca.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

// A fresh headless chromium with an empty profile of its own (removed by close()).
export async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hie-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    userDataDir,
    timeout: 30000,
    protocolTimeout: 60000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${caSpkiHash()}`,
    ],
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return browser;
}

// One browser for the tests of the calling file: launched before the first, closed
// after the last. Returns a function that gives it (for newPage).
export function browserForTheseTests() {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser;
}

// A new tab at laptop size, in a browser context of its own (its own cookies: one
// person at one computer), that records what the browser complains about: every CSP
// violation, script error and dialog (an alert() would mean injected script ran).
// Closing the page closes its context.
export async function newPage(browser) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const close = page.close.bind(page);
  page.close = async () => {
    await close();
    await context.close();
  };
  page.setDefaultTimeout(kStepMs);
  page.setDefaultNavigationTimeout(kStepMs);
  await page.setViewport({ width: 1280, height: 800 });
  page.problems = [];
  page.dialogs = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // The browser logs every error status; a page's own is what the tests assert, and a
    // stylesheet's or script's is reported below with its URL.
    if (/^Failed to load resource: the server responded with a status of [45]\d\d/.test(text)) return;
    page.problems.push(`console: ${text}`);
  });
  page.on('pageerror', (error) => page.problems.push(`script error: ${error.message}`));
  // What the page asked for and did not get. /favicon.ico is the browser's own guess,
  // which no page of the app names.
  const pageAsked = (request) =>
    request.resourceType() !== 'document' && new URL(request.url()).pathname !== '/favicon.ico';
  page.on('response', (response) => {
    if (response.status() >= 400 && pageAsked(response.request())) {
      page.problems.push(`${response.status()} for ${response.url()}`);
    }
  });
  page.on('requestfailed', (request) => {
    if (pageAsked(request)) {
      page.problems.push(`${request.url()} failed: ${request.failure()?.errorText}`);
    }
  });
  page.on('dialog', async (dialog) => {
    page.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  return page;
}

// Waits for the navigation `action` starts (a click, a submit) and returns its response.
export async function navigating(page, action) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: kStepMs }),
    action(),
  ]);
  return response;
}

// The control a <label> whose text matches `label` names (for= or nesting); its
// selector, so that the test types into it as a person would.
async function controlSelector(page, label) {
  const id = await page.evaluate((source, flags) => {
    const want = new RegExp(source, flags);
    for (const l of document.querySelectorAll('label')) {
      if (!want.test(l.textContent.trim()) || !l.control) continue;
      if (!l.control.id) l.control.id = `hie-test-${Math.random().toString(36).slice(2)}`;
      return l.control.id;
    }
    return null;
  }, label.source, label.flags);
  assert.ok(id, `no field labelled ${label} on ${page.url()}`);
  return `[id=${JSON.stringify(id)}]`;
}

export async function typeInto(page, label, text) {
  const selector = await controlSelector(page, label);
  // A date field's keystrokes follow the browser's locale (mm/dd/yyyy here); its value
  // is always yyyy-mm-dd, so it is set as the date picker would set it.
  if ((await page.$eval(selector, (e) => e.type)) === 'date') {
    await page.$eval(selector, (e, value) => {
      e.value = value;
      e.dispatchEvent(new Event('input', { bubbles: true }));
      e.dispatchEvent(new Event('change', { bubbles: true }));
    }, text);
    return;
  }
  await page.click(selector, { clickCount: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, text);
}

export async function choose(page, label, value) {
  const selector = await controlSelector(page, label);
  await page.select(selector, value);
}

export async function check(page, label) {
  const selector = await controlSelector(page, label);
  const checked = await page.$eval(selector, (e) => e.checked);
  if (!checked) await page.click(selector);
}

// The first visible element of `tag` (a selector) whose text matches `text`.
async function elementByText(page, tag, text) {
  const handles = await page.$$(tag);
  for (const h of handles) {
    const [content, visible] = await h.evaluate((e) => [
      (e.textContent || e.value || '').trim(),
      !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length),
    ]);
    if (visible && text.test(content)) return h;
  }
  assert.fail(`no ${tag} reading ${text} on ${page.url()}`);
}

// Presses the button reading `text` and returns the response of the page it leads to.
export async function press(page, text) {
  const button = await elementByText(page, 'button, input[type=submit]', text);
  return navigating(page, () => button.click());
}

// Follows the link reading `text` to a page that is there (2xx or 3xx).
export async function follow(page, text) {
  const link = await elementByText(page, 'a[href]', text);
  const response = await navigating(page, () => link.click());
  assert.ok(response && response.status() < 400,
    `following ${text} led to ${page.url()}: ${response && response.status()}`);
  return response;
}

export async function hasLink(page, text) {
  for (const h of await page.$$('a[href]')) {
    if (text.test(await h.evaluate((e) => e.textContent.trim()))) return true;
  }
  return false;
}

// The record view's answer is on the page (the clinician's record and the portal's):
// its "where this record came from" table.
export async function waitForRecord(page) {
  await page.waitForSelector('.record-view .rv-holders', { timeout: kStepMs });
}

// The practices named by the record view's source badges, each once, sorted
// ("org-a (this practice)" → "org-a").
export async function badges(page) {
  const orgs = await page.$$eval('.record-view .badge', (spans) =>
    spans.map((s) => s.textContent.trim().split(/\s/)[0]),
  );
  return [...new Set(orgs)].sort();
}

export function mainText(page) {
  return page.$eval('main', (m) => m.innerText);
}

export async function goto(page, url) {
  return page.goto(url, { waitUntil: 'load', timeout: kStepMs });
}

// Signs in at `org`'s web app as a person does; returns the response of the page the
// form leads to (the home page on success).
export async function signIn(page, who, totpCode = '') {
  await goto(page, `${origin(who.org)}/app/login`);
  await typeInto(page, /^Login/, who.login);
  await typeInto(page, /^Password/, who.password);
  if (totpCode) await typeInto(page, /^Authenticator code/, totpCode);
  return press(page, /^Sign in$/);
}

export async function signOut(page) {
  return press(page, /^Sign out$/);
}

export async function sessionCookie(page) {
  return (await page.cookies()).find((c) => c.name === 'hie_session');
}

const axeSource = fs.readFileSync(
  path.join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'),
  'utf8',
);

// A full-page screenshot `name`.png of what the browser shows.
export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}

// The check each main page gets: a full-page screenshot `name`.png, then no CSP
// violation, script error or dialog so far, and no serious or critical axe-core
// violation of WCAG 2.x A/AA. axe is evaluated through the DevTools protocol, which the
// page's CSP does not govern, so the page keeps its real policy while it is checked.
export async function checkPage(page, name) {
  await screenshot(page, name);
  assert.deepEqual(page.problems, [], `the browser reported problems on ${page.url()}`);
  assert.deepEqual(page.dialogs, [], `a dialog opened on ${page.url()}`);
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }),
  );
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, [], `axe-core on ${page.url()}`);
}
