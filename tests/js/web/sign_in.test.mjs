// Signing in and out of the node's web app in a real browser: a clinician signs in, a
// second factor is asked for and accepted, five wrong passwords lock an account, the
// session id changes at sign-in (fixation), and signing out ends the session on the
// server (the back button and the old cookie both find the sign-in form).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  account,
  addAccount,
  checkPage,
  goto,
  hasLink,
  launch,
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

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const drLee = () => account('org-a', 'dr.lee');

test('the sign-in form is accessible and a clinician reaches their home page', async () => {
  const page = await newPage(browser);
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
  const page = await newPage(browser);
  const response = await signIn(page, { ...drLee(), password: 'not the password at all' });
  assert.equal(response.status(), 401);
  assert.match(await mainText(page), /Wrong login or password/);
  assert.equal(await sessionCookie(page), undefined);
  await checkPage(page, 'sign-in-refused');
  await page.close();
});

// The enrolment page (/app/totp) is being built: the test opens it as a signed-in user,
// reads the secret the page shows (or its otpauth:// URI), confirms it with a code, then
// signs in again with and without one.
test('sign-in with a TOTP second factor', { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  const who = addAccount('org-a', { login: 'dr.totp', name: 'Dr Tomas Otp', role: 'clinician' });
  await signIn(page, who);
  const enrol = await goto(page, `${origin('org-a')}/app/totp`);
  assert.equal(enrol.status(), 200);
  const text = await page.$eval('main', (m) => m.innerText);
  // The secret as an otpauth:// URI's parameter, or written out, perhaps in groups of four.
  const secret = (
    text.match(/secret=([A-Z2-7]+)/) ||
    text.match(/\b((?:[A-Z2-7]{4} ?){4,}[A-Z2-7]*)\b/) ||
    []
  )[1]?.replace(/ /g, '');
  assert.ok(secret, 'the enrolment page shows the secret (or its otpauth:// URI)');
  await checkPage(page, 'totp-enrol');
  await typeInto(page, /code/i, totp(secret));
  const confirmed = await press(page, /confirm|turn on|save/i);
  assert.ok(confirmed.status() < 400, `confirming the authenticator: ${confirmed.status()}`);
  await signOut(page);

  // The password alone is not enough any more.
  const half = await signIn(page, who);
  assert.equal(half.status(), 401);
  assert.match(await mainText(page), /6-digit code/);
  await checkPage(page, 'sign-in-totp-asked');
  // A code is accepted once: the next step's code (the node accepts one step of drift).
  const full = await signIn(page, who, totp(secret, Date.now() + 30000));
  assert.equal(full.status(), 200);
  assert.match(await mainText(page), /Welcome, Dr Tomas Otp/);
  await page.close();
});

test('five wrong passwords lock the account, the right one too until the lock ends', async () => {
  const page = await newPage(browser);
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
  const page = await newPage(browser);
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
  const page = await newPage(browser);
  await signIn(page, drLee());
  const cookie = await sessionCookie(page);
  assert.ok(cookie);
  const out = await signOut(page);
  assert.equal(out.status(), 200);
  assert.match(page.url(), /\/app\/login$/);
  assert.equal(await sessionCookie(page), undefined, 'the browser drops the cookie');
  await checkPage(page, 'signed-out');

  // Back: the home page is not shown from a cache (no-store); the server asks again.
  await page.goBack({ waitUntil: 'load' });
  assert.match(page.url(), /\/app\/login$/);
  assert.doesNotMatch(await mainText(page), /Welcome/);

  // The old cookie, put back by hand: the server ended that session.
  await page.setCookie({ ...cookie, url: `${origin('org-a')}/app/` });
  await goto(page, `${origin('org-a')}/app/`);
  assert.match(page.url(), /\/app\/login$/);
  const post = await page.evaluate(async (url) => (await fetch(url, { method: 'POST' })).status,
    `${origin('org-a')}/app/logout`);
  assert.equal(post, 401, 'a POST with the ended session is not signed in either');
  await page.close();
});
