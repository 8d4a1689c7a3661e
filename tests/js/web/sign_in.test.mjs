// Signing in and out of the node's web app in a real browser: a clinician signs in, a
// user sets up an authenticator (/app/totp) and then signs in with password and code,
// five wrong passwords lock an account, the session id changes at sign-in (fixation),
// and signing out ends the session on the server (the old cookie finds the sign-in
// form; Back should too).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  account,
  browserForTheseTests,
  addAccount,
  checkPage,
  follow,
  goto,
  hasLink,
  mainText,
  newPage,
  origin,
  press,
  sessionCookie,
  signIn,
  signOut,
  totp,
  typeInto,
} from './browser.mjs';

const browser = browserForTheseTests();

const drLee = () => account('org-a', 'dr.lee');

test('the sign-in form is accessible and a clinician reaches their home page', async () => {
  const page = await newPage(browser());
  await goto(page, `${origin('org-a')}/app/`);
  assert.match(page.url(), /\/app\/login$/, 'a page behind sign-in sends the browser to the form');
  await checkPage(page, 'sign-in');

  const response = await signIn(page, drLee());
  assert.equal(response.status(), 200);
  assert.match(page.url(), /\/app\/$/);
  assert.match(await mainText(page), /Welcome, /);
  assert.match(await mainText(page), /role clinician/);
  assert.ok(await hasLink(page, /^Patients$/), 'a clinician is offered the patient pages');
  assert.ok(!(await hasLink(page, /^Users$/)), 'a clinician is not offered the admin pages');
  const cookie = await sessionCookie(page);
  assert.ok(cookie, 'signed in, the browser holds a session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.session, true, 'the cookie ends with the browser');
  await checkPage(page, 'home-clinician');
  await page.close();
});

test('a wrong password is refused with the form shown again', async () => {
  const page = await newPage(browser());
  const response = await signIn(page, { ...drLee(), password: 'not the password at all' });
  assert.equal(response.status(), 401);
  assert.match(await mainText(page), /Wrong login or password/);
  assert.equal(await sessionCookie(page), undefined);
  await checkPage(page, 'sign-in-refused');
  await page.close();
});

// A fresh clinician sets up an authenticator on the two-step sign-in page (the current
// password first, then the key shown and a first code to confirm it), signs out, and
// from then on signs in with the password and a code.
test('sign-in with a TOTP second factor', async () => {
  const page = await newPage(browser());
  const who = addAccount('org-a', { login: 'dr.totp', name: 'Dr Tomas Otp', role: 'clinician' });
  await signIn(page, who);
  await follow(page, /^Two-step sign-in$/);
  assert.match(page.url(), /\/app\/totp$/);
  assert.match(await mainText(page), /Your account signs in with a password only/);
  await checkPage(page, 'totp-setup');

  // The wrong current password sets nothing up.
  await typeInto(page, /^Current password$/, 'not my password at all');
  const wrong = await press(page, /^Set up an authenticator$/);
  assert.equal(wrong.status(), 401);
  assert.match(await mainText(page), /The current password is wrong/);
  assert.equal(await page.$('#totp-secret'), null, 'no key is shown');

  await typeInto(page, /^Current password$/, who.password);
  const enrol = await press(page, /^Set up an authenticator$/);
  assert.equal(enrol.status(), 200);
  assert.equal(await page.$eval('h1', (h) => h.textContent), 'Set up your authenticator');
  // The key in groups of four, and the same key in the otpauth:// link.
  const shown = await page.$eval('#totp-secret', (p) => p.textContent.trim());
  assert.match(shown, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  const secret = shown.replace(/ /g, '');
  assert.ok(secret.length >= 16, `a key of at least 80 bits: ${shown}`);
  const uri = new URL(await page.$eval('a[href^="otpauth:"]', (a) => a.getAttribute('href')));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.searchParams.get('secret'), secret);
  assert.match(decodeURIComponent(uri.pathname), new RegExp(who.login.replace(/\./g, '\\.')));
  await checkPage(page, 'totp-secret');

  // A wrong first code confirms nothing.
  const confirmedAt = Date.now();
  await typeInto(page, /^The code the app shows now$/, totp(secret, confirmedAt + 5 * 60000));
  const refused = await press(page, /^Confirm$/);
  assert.equal(refused.status(), 400);
  assert.match(await mainText(page), /Nothing changed/);
  assert.match(await mainText(page), /Your account signs in with a password only/);

  // Again, with the code of now.
  await typeInto(page, /^Current password$/, who.password);
  await press(page, /^Set up an authenticator$/);
  const key = (await page.$eval('#totp-secret', (p) => p.textContent)).replace(/\s/g, '');
  assert.notEqual(key, secret, 'setting up again makes a new key');
  const step = Date.now();
  await typeInto(page, /^The code the app shows now$/, totp(key, step));
  const confirmed = await press(page, /^Confirm$/);
  assert.equal(confirmed.status(), 200);
  assert.match(await page.$eval('.notice[role=status]', (p) => p.textContent), /Your authenticator is set up/);
  assert.match(await mainText(page), /asks for a code from your authenticator app at every sign-in/);
  await checkPage(page, 'totp-confirmed');
  await signOut(page);

  // The password alone is not enough any more.
  const half = await signIn(page, who);
  assert.equal(half.status(), 401);
  assert.match(await mainText(page), /Enter the 6-digit code from your authenticator app/);
  assert.equal(await sessionCookie(page), undefined);
  await checkPage(page, 'sign-in-totp-asked');
  // A code is good once: the one that confirmed the key is spent.
  const replayed = await signIn(page, who, totp(key, step));
  assert.equal(replayed.status(), 401, 'the confirming code does not sign in again');
  // The next step's code (the node accepts one step of drift) signs in.
  const full = await signIn(page, who, totp(key, Date.now() + 30000));
  assert.equal(full.status(), 200);
  assert.match(page.url(), /\/app\/$/);
  assert.match(await mainText(page), /Welcome, Dr Tomas Otp/);
  assert.ok(await sessionCookie(page));
  await page.close();
});

test('five wrong passwords lock the account, the right one too until the lock ends', async () => {
  const page = await newPage(browser());
  const who = addAccount('org-a', { login: 'dr.locked', name: 'Dr Lock', role: 'clinician' });
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const response = await signIn(page, { ...who, password: `wrong password number ${i}` });
    statuses.push(response.status());
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
  assert.match(await mainText(page), /Too many failed sign-ins: try again after/);
  await checkPage(page, 'sign-in-locked');
  const right = await signIn(page, who);
  assert.equal(right.status(), 429, 'while locked, even the right password is refused');
  assert.equal(await sessionCookie(page), undefined);
  await page.close();
});

test('signing in gives a new session id; the one before it is void', async () => {
  const page = await newPage(browser());
  // A session id planted in the browser before sign-in (as an attacker would) is not
  // the one the browser holds after it.
  await goto(page, `${origin('org-a')}/app/login`);
  await page.setCookie({
    name: 'hie_session',
    value: 'planted-by-someone-else',
    url: `${origin('org-a')}/app/`,
    path: '/app',
    secure: true,
    httpOnly: true,
    sameSite: 'Strict',
  });
  await signIn(page, drLee());
  const first = await sessionCookie(page);
  assert.ok(first && first.value !== 'planted-by-someone-else');

  // Signing in again from the same browser: another id, and the first one ends.
  await signIn(page, drLee());
  const second = await sessionCookie(page);
  assert.ok(second && second.value !== first.value, 'a new id at every sign-in');
  await page.setCookie({ ...first, url: `${origin('org-a')}/app/` });
  await goto(page, `${origin('org-a')}/app/`);
  assert.match(page.url(), /\/app\/login$/, 'the replaced session no longer signs anyone in');
  await page.close();
});

test('signing out ends the session on the server', async () => {
  const page = await newPage(browser());
  await signIn(page, drLee());
  const cookie = await sessionCookie(page);
  assert.ok(cookie);
  const out = await signOut(page);
  assert.equal(out.status(), 200);
  assert.match(page.url(), /\/app\/login$/);
  assert.equal(await sessionCookie(page), undefined, 'the browser drops the cookie');
  await checkPage(page, 'signed-out');

  // The old cookie, put back by hand: the server ended that session.
  await page.setCookie({ ...cookie, url: `${origin('org-a')}/app/` });
  await goto(page, `${origin('org-a')}/app/`);
  assert.match(page.url(), /\/app\/login$/);
  const post = await page.evaluate(async (url) => (await fetch(url, { method: 'POST' })).status,
    `${origin('org-a')}/app/logout`);
  assert.equal(post, 401, 'a POST with the ended session is not signed in either');
  await page.close();
});

// Chromium (156) restores the signed-in home page from its back/forward cache after
// sign-out although every page is sent with Cache-Control: no-store, and no request
// reaches the node; the page's script then asks the node again, so whoever uses the
// computer next sees the sign-in form, not the last user's page.
test('after signing out, Back does not show the signed-in page', async () => {
  const page = await newPage(browser());
  await signIn(page, drLee());
  await signOut(page);
  await page.goBack({ waitUntil: 'load' });
  // A page restored from the back/forward cache asks the node again (web/node/app.js),
  // which sends a browser without a session to sign in.
  await page.waitForFunction(() => /\/app\/login$/.test(window.location.pathname), {
    timeout: 10000,
  });
  assert.match(page.url(), /\/app\/login$/);
  assert.doesNotMatch(await mainText(page), /Welcome/);
  await page.close();
});
