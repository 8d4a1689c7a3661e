// What an attacker would try on the node's web app, in a real browser: a form on
// another origin that posts to the node (CSRF), a signed-in user opening another role's
// pages, and record text written to run script (XSS).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  account,
  browserForTheseTests,
  addAccount,
  checkPage,
  goto,
  importResource,
  mainText,
  navigating,
  newPage,
  origin,
  sessionCookie,
  signIn,
} from './browser.mjs';

const browser = browserForTheseTests();

const kScript = '<img src=x onerror=alert(1)>';

// Whether the browser at `page` is still signed in at `org`.
async function signedIn(page, org) {
  await goto(page, `${origin(org)}/app/`);
  return /Welcome, /.test(await mainText(page));
}

test('a form on another origin cannot sign the user out (CSRF)', async () => {
  const page = await newPage(browser());
  await signIn(page, account('org-a', 'dr.lee'));
  const cookie = await sessionCookie(page);
  assert.equal(cookie.sameSite, 'Strict');
  const target = `${origin('org-a')}/app/logout`;

  // Another site (an opaque data: origin): the SameSite=Strict cookie is not sent, so
  // the node sees nobody signed in.
  const attack = `<!DOCTYPE html><html lang="en"><title>win a prize</title>
    <form method="post" action="${target}"><input type="hidden" name="next" value="x">
    <button>Claim</button></form></html>`;
  await goto(page, `data:text/html,${encodeURIComponent(attack)}`);
  const crossSite = await navigating(page, () => page.click('button'));
  assert.equal(crossSite.status(), 401, 'no cookie came with the cross-site post');
  assert.equal(await page.$eval('h1', (h) => h.textContent), 'Please sign in');
  await checkPage(page, 'csrf-cross-site-refused');
  assert.ok(await signedIn(page, 'org-a'), 'the session survived');

  // Another origin on the same site (org-b's node, another port of 127.0.0.1): the
  // browser does send the cookie, and the missing CSRF token is what refuses it. The
  // form is org-b's own sign-in form pointed at org-a's sign-out, without its token.
  await goto(page, `${origin('org-b')}/app/login`);
  await page.$eval('form', (form, action) => {
    form.action = action;
    for (const input of form.querySelectorAll('input')) input.remove();
  }, target);
  const sameSite = await navigating(page, () => page.click('form button'));
  assert.equal(sameSite.status(), 403, 'a post without the CSRF token is refused');
  // The refusal is a page of the app, saying so.
  assert.equal(await page.$eval('h1', (h) => h.textContent), 'Not allowed');
  await checkPage(page, 'csrf-refused');
  assert.ok(await signedIn(page, 'org-a'), 'the session survived');

  // The same form with a wrong token is refused the same way.
  await goto(page, `${origin('org-b')}/app/login`);
  await page.$eval('form', (form, action) => {
    form.action = action;
    for (const input of form.querySelectorAll('input:not([name=_csrf])')) input.remove();
  }, target);
  const wrongToken = await navigating(page, () => page.click('form button'));
  assert.equal(wrongToken.status(), 403);
  assert.ok(await signedIn(page, 'org-a'), 'the session survived');
  await page.close();
});

// The refusal comes from the route's own rule (a session of the right role), before any
// handler runs; the page says so and offers nothing of the refused page.
async function assertRefused(page, path) {
  const response = await goto(page, `${origin('org-a')}${path}`);
  assert.equal(response.status(), 403, path);
  assert.equal(await page.$eval('h1', (h) => h.textContent), 'Not allowed', path);
  assert.doesNotMatch(await page.content(), /Oyelaran|GP-100\d|table class="(users|audit|status)"/, path);
}

test('a clinician is refused the admin and front-desk pages', async () => {
  const page = await newPage(browser());
  await signIn(page, account('org-a', 'dr.lee'));
  for (const path of ['/app/admin/users', '/app/admin/status', '/app/admin/import', '/app/admin/audit',
    '/app/front-desk', '/app/front-desk/register', '/app/my/disclosures']) {
    await assertRefused(page, path);
  }
  await goto(page, `${origin('org-a')}/app/admin/users`);
  await checkPage(page, 'refused-clinician-admin');
  await page.close();
});

test('a patient is refused the clinician, front-desk and admin pages', async () => {
  const page = await newPage(browser());
  await signIn(page, account('org-a', 'jane'));
  for (const path of ['/app/patients', '/app/patients?family=Brandt&where=local', '/app/patients/GP-1002',
    '/app/patients/GP-1001/record?purpose=TREAT', '/app/front-desk', '/app/front-desk/patients/GP-1002',
    '/app/admin/users', '/app/admin/status', '/app/admin/import', '/app/admin/audit']) {
    await assertRefused(page, path);
  }
  await goto(page, `${origin('org-a')}/app/patients`);
  await checkPage(page, 'refused-patient-clinician');
  await page.close();
});

test('an unknown page under /app/ is a page of the app that says so', async () => {
  const page = await newPage(browser());
  await signIn(page, account('org-a', 'dr.lee'));
  const response = await goto(page, `${origin('org-a')}/app/no-such-page`);
  assert.equal(response.status(), 404);
  assert.match(response.headers()['content-type'], /^text\/html/);
  assert.equal(await page.$eval('h1', (h) => h.textContent), 'No such page');
  assert.ok(await page.$('a[href="/app/"]'), 'it leads back to the home page');
  await checkPage(page, 'not-found');
  await page.close();
});

test('an account name written as markup shows as text', async () => {
  const page = await newPage(browser());
  const who = addAccount('org-a', { login: 'dr.markup', name: kScript, role: 'clinician' });
  await signIn(page, who);
  assert.match(await mainText(page), /Welcome, <img src=x onerror=alert\(1\)>/);
  assert.equal(await page.$$eval('img', (imgs) => imgs.length), 0, 'no image element was made');
  await checkPage(page, 'xss-account-name');
  assert.deepEqual(page.dialogs, []);
  await page.close();
});

test('script that got into a page anyway is refused by its Content-Security-Policy', async () => {
  const page = await newPage(browser());
  await signIn(page, account('org-a', 'dr.lee'));
  // As if an escaping bug had let markup through: an inline script and an inline event
  // handler put into the page.
  await page.$eval('main', (main) => {
    const script = document.createElement('script');
    script.textContent = 'alert("inline script ran")';
    main.append(script);
    const img = document.createElement('img');
    img.setAttribute('src', 'x');
    img.setAttribute('onerror', 'alert("inline handler ran")');
    img.setAttribute('alt', '');
    main.append(img);
  });
  await page.waitForNetworkIdle({ idleTime: 200, timeout: 5000 });
  assert.deepEqual(page.dialogs, [], 'no injected script ran');
  const refused = page.problems.filter((p) => /Content Security Policy/.test(p));
  assert.ok(refused.length >= 2, `the browser reported both refusals: ${page.problems}`);
  await page.close();
});

test("a Patient named as markup shows as text on the clinician's search, patient and record pages", async () => {
  const id = `xss-${Date.now().toString(36)}`;
  importResource('org-a', {
    resourceType: 'Patient',
    id,
    name: [{ family: kScript, given: ['Mallory'] }],
    gender: 'female',
    birthDate: '1990-01-01',
  });
  const page = await newPage(browser());
  await signIn(page, account('org-a', 'dr.lee'));
  const noMarkup = async (where) => {
    assert.equal(await page.$$eval('main img', (imgs) => imgs.length), 0, `no image element was made on ${where}`);
    assert.deepEqual(page.dialogs, [], `no script ran on ${where}`);
  };

  // The search: the name is a link's text.
  await goto(page, `${origin('org-a')}/app/patients?given=Mallory&where=local`);
  const names = await page.$$eval('table.patients a', (links) => links.map((a) => a.textContent));
  assert.ok(names.includes(`Mallory ${kScript}`), JSON.stringify(names));
  await noMarkup('the search');
  await checkPage(page, 'xss-patient-search');

  // The patient's page: the heading and the title.
  await goto(page, `${origin('org-a')}/app/patients/${id}`);
  assert.equal(await page.$eval('h1', (h) => h.textContent), `Mallory ${kScript}`);
  await noMarkup("the patient's page");
  await checkPage(page, 'xss-patient-name');

  // The record: a federated query, possible once the outbox has registered the patient
  // with the MPI (until then the page says the exchange does not know them yet).
  const deadline = Date.now() + 10000;
  for (;;) {
    await goto(page, `${origin('org-a')}/app/patients/${id}/record?purpose=TREAT`);
    if ((await page.$('.record-view')) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const patients = await page.$$eval('#rv-patient ~ .rv-list .rv-text', (t) => t.map((e) => e.textContent));
  assert.deepEqual(patients, [`Mallory ${kScript}`]);
  await noMarkup('the record');
  await checkPage(page, 'xss-patient-record');
  await page.close();
});
