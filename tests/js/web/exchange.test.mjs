// The web app's main story across the devnet's three practices, in order, in a real
// browser: Dr Lee at org-a finds Jane Oyelaran and sees her record from org-a, org-b and
// org-c with each item's source; opens an opted-out patient's record by breaking the
// glass; Jane, in org-a's portal, sees her record, sees Dr Lee's query among those who
// saw it, and stops sharing, after which Dr Lee's next query is denied. Then each role's
// other pages are visited once for their screenshot and accessibility check.
//
// The tests run in this order and build on each other (the query Jane sees is the one
// the first test made; the consent change comes last).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  account,
  addAccount,
  check,
  checkPage,
  follow,
  goto,
  kStepMs,
  launch,
  mainText,
  newPage,
  origin,
  press,
  signIn,
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
const jane = () => account('org-a', 'jane');

// Dr Lee's way to a patient: the Patients page, a search of the practice by family
// name, the patient's page from the results.
async function openPatient(page, family, given) {
  await goto(page, `${origin('org-a')}/app/`);
  await follow(page, /^Patients$/);
  await typeInto(page, /^Family name/, family);
  await press(page, /^Search this practice$/);
  await follow(page, new RegExp(given));
}

// ... and from there the record from every practice, for treatment.
async function openRecord(page, family, given) {
  await openPatient(page, family, given);
  await press(page, /^Open the record from every practice$/);
}

// The record view's answer is on the page: its per-holder status line.
async function waitForRecord(page) {
  await page.waitForSelector('.record-view, .rv-holders', { timeout: kStepMs });
}

// The practices named by the source badges on the page ("org-a (this practice)" → "org-a").
function badges(page) {
  return page.$$eval('.badge', (spans) => [
    ...new Set(spans.map((s) => s.textContent.trim().split(/\s/)[0])),
  ]);
}

test('Dr Lee finds Jane and sees her record from all three practices', { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, drLee());
  await follow(page, /^Patients$/);
  await checkPage(page, 'clinician-search');
  await typeInto(page, /^Family name/, 'Oyelaran');
  await press(page, /^Search this practice and the exchange$/);
  assert.match(await mainText(page), /Jane/);
  await checkPage(page, 'clinician-search-results');
  await follow(page, /Jane/);
  await checkPage(page, 'clinician-patient');
  await press(page, /^Open the record from every practice$/);
  await waitForRecord(page);
  const text = await mainText(page);
  assert.match(text, /Oyelaran/);
  assert.deepEqual((await badges(page)).sort(), ['org-a', 'org-b', 'org-c']);
  for (const org of ['org-b', 'org-c']) {
    assert.match(text, new RegExp(`${org}[^\\n]*\\bok\\b`, 'i'), `${org}'s status line says ok`);
  }
  await checkPage(page, 'clinician-record');
  // The tablet width lays the same record out without horizontal scrolling.
  await page.setViewport({ width: 768, height: 1024 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the record scrolls sideways by ${overflow}px at tablet width`);
  await checkPage(page, 'clinician-record-tablet');
  await page.close();
});

test('Dr Lee breaks the glass for a patient who opted out', { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, drLee());
  // Marcus Brandt (GP-1002) opted out of the exchange: a treatment query is denied.
  await openRecord(page, 'Brandt', 'Marcus');
  assert.match(await mainText(page), /denied|opted out|consent/i);
  await checkPage(page, 'clinician-record-denied');
  // Emergency access is offered on the patient's page.
  await openPatient(page, 'Brandt', 'Marcus');
  await typeInto(page, /^Reason for emergency access/, 'Unconscious in the emergency department, no history known');
  await press(page, /^Open with emergency access$/);
  await waitForRecord(page);
  assert.match(await mainText(page), /emergency access/i);
  assert.ok(await page.$('.emergency-banner'), 'the emergency view is clearly marked');
  await checkPage(page, 'clinician-break-the-glass');
  await page.close();
});

test('Jane sees her own record from every practice in the portal', { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, jane());
  await follow(page, /^My record$/);
  await waitForRecord(page);
  assert.deepEqual((await badges(page)).sort(), ['org-a', 'org-b', 'org-c']);
  await checkPage(page, 'portal-record');
  await page.close();
});

test("Jane's portal shows Dr Lee's query under who saw her record", { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, jane());
  await follow(page, /^Who saw my record$/);
  // A row of the table: org-a's Dr Lee asked, for treatment.
  assert.match(await mainText(page), /^.*org-a\t.*dr\.lee.*\tTREAT\t.*$/m);
  await checkPage(page, 'portal-disclosures');
  await page.close();
});

test("Jane stops sharing and Dr Lee's next query is denied", { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, jane());
  await follow(page, /^My sharing choices$/);
  await checkPage(page, 'portal-consent');
  await check(page, /do not share|opt out|no one/i);
  const saved = await press(page, /save/i);
  assert.ok(saved.status() < 400, `saving the choice: ${saved.status()}`);
  await checkPage(page, 'portal-consent-saved');

  const clinician = await newPage(browser);
  await signIn(clinician, drLee());
  await openRecord(clinician, 'Oyelaran', 'Jane');
  const text = await mainText(clinician);
  assert.match(text, /denied|opted out|consent/i);
  assert.ok(!(await badges(clinician)).includes('org-b'), 'nothing from org-b after the opt-out');
  await checkPage(clinician, 'clinician-record-after-opt-out');
  await clinician.close();
  await page.close();
});

test("the practice admin's pages", { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, account('org-a', 'admin'));
  for (const [link, name] of [
    [/^Users$/, 'admin-users'],
    [/^Node status$/, 'admin-status'],
    [/^Import$/, 'admin-import'],
    [/^Audit log$/, 'admin-audit'],
  ]) {
    const response = await follow(page, link);
    assert.equal(response.status(), 200, name);
    await checkPage(page, name);
  }
  assert.match(await mainText(page), /verif/i, 'the audit log offers chain verification');
  await page.close();
});

test("the front desk's pages", { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, addAccount('org-a', { login: 'desk.kim', name: 'Kim Desk', role: 'front-desk' }));
  for (const [link, name] of [
    [/^Patients$/, 'front-desk-patients'],
    [/^Register a patient$/, 'front-desk-register'],
  ]) {
    const response = await follow(page, link);
    assert.equal(response.status(), 200, name);
    await checkPage(page, name);
  }
  await page.close();
});
