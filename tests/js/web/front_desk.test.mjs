// The front desk's pages in a real browser: finding a patient, registering a new one,
// inviting them to the portal; then the patient, at another computer (a fresh browser
// context), redeems the invitation at /app/invite, has an account of their own, and
// signs in with it to see their own pages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addAccount,
  browserForTheseTests,
  checkPage,
  choose,
  follow,
  freshPassword,
  goto,
  hasLink,
  mainText,
  newPage,
  origin,
  press,
  signIn,
  signOut,
  typeInto,
} from './browser.mjs';

const browser = browserForTheseTests();

const run = Date.now().toString(36);
let desk;
const frontDesk = () => {
  desk ??= addAccount('org-a', { login: 'desk.kim', name: 'Kim Desk', role: 'front-desk' });
  return desk;
};

test('the front desk finds a patient of the practice', async () => {
  const page = await newPage(browser());
  await signIn(page, frontDesk());
  assert.ok(!(await hasLink(page, /^Users$/)), 'the front desk is not offered the admin pages');
  await checkPage(page, 'home-front-desk');
  const response = await follow(page, /^Patients$/);
  assert.equal(response.status(), 200);
  assert.match(page.url(), /\/app\/front-desk$/);
  await checkPage(page, 'front-desk-patients');
  await typeInto(page, /^Family name/, 'Oyelaran');
  await press(page, /^Search$/);
  const rows = await page.$$eval('main table tbody tr', (trs) => trs.map((r) => r.innerText));
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.match(rows[0], /^Jane Oyelaran\t1984-06-02\tfemale\t.*\tGP-1001\t/);
  await checkPage(page, 'front-desk-search-results');
  await page.close();
});

test('the front desk registers a patient and invites them; the patient redeems the invitation and signs in', async () => {
  const page = await newPage(browser());
  await signIn(page, frontDesk());
  await follow(page, /^Register a patient$/);
  await checkPage(page, 'front-desk-register');
  await typeInto(page, /^Family name/, `Novak${run}`);
  await typeInto(page, /^Given names/, 'Petra');
  await typeInto(page, /^Date of birth/, '1992-08-17');
  await choose(page, /^Gender/, 'female');
  await typeInto(page, /^Phone/, '217-555-0123');
  await typeInto(page, /^Street address/, '3 Oak Lane');
  await typeInto(page, /^City/, 'Springfield');
  await typeInto(page, /^Postal code/, '62704');
  await typeInto(page, /^Identifier$/, `MRN-${run}`);
  const registered = await press(page, /^Register$/);
  assert.equal(registered.status(), 200);
  const id = decodeURIComponent(page.url().match(/\/app\/front-desk\/patients\/([^/?#]+)/)?.[1] ?? '');
  assert.ok(id, `registering leads to the patient's page: ${page.url()}`);
  assert.equal(await page.$eval('h1', (h) => h.textContent), `Petra Novak${run}`);
  await checkPage(page, 'front-desk-patient');

  const invited = await press(page, /^Invite to the portal$/);
  assert.equal(invited.status(), 200);
  const code = await page.$eval('.invite-code', (p) => p.textContent.trim());
  assert.ok(code.length >= 8, `the invitation shows a code: ${code}`);
  assert.equal(await page.$eval('.invite-link', (p) => p.textContent.trim()), `${origin('org-a')}/app/invite`);
  assert.match(await mainText(page), new RegExp(`For Petra Novak${run} \\(local id ${id}\\)`));
  await checkPage(page, 'front-desk-invite');
  await page.close();

  // The patient, at home: nobody is signed in there.
  const home = await newPage(browser());
  await goto(home, `${origin('org-a')}/app/invite`);
  await checkPage(home, 'invite-redeem');
  const petra = { org: 'org-a', login: `petra.${run}`, password: freshPassword() };
  await typeInto(home, /^Invitation code/, code);
  await typeInto(home, /^Choose a login/, petra.login);
  await typeInto(home, /^Choose a password/, petra.password);
  await typeInto(home, /^The password again/, petra.password);
  const created = await press(home, /^Create my account$/);
  assert.equal(created.status(), 200);
  assert.match(home.url(), /\/app\/$/);
  assert.match(await mainText(home), /Welcome, Petra Novak/);
  assert.match(await mainText(home), /role patient/);
  await checkPage(home, 'portal-home-new-patient');
  await signOut(home);

  // The code worked once.
  await goto(home, `${origin('org-a')}/app/invite`);
  await typeInto(home, /^Invitation code/, code);
  await typeInto(home, /^Choose a login/, `${petra.login}.again`);
  await typeInto(home, /^Choose a password/, petra.password);
  await typeInto(home, /^The password again/, petra.password);
  const again = await press(home, /^Create my account$/);
  assert.ok(again.status() >= 400, `a used code is refused: ${again.status()}`);

  // Her own login and password, and her own pages.
  const signedIn = await signIn(home, petra);
  assert.equal(signedIn.status(), 200);
  assert.match(await mainText(home), /Welcome, Petra Novak/);
  const disclosures = await follow(home, /^Who saw my record$/);
  assert.equal(disclosures.status(), 200);
  assert.match(await mainText(home), /Who saw my record/);
  await home.close();
});
