// The web app's main story across the devnet's three practices, in order, in a real
// browser: Dr Lee at org-a finds Jane Oyelaran and sees her record from org-a, org-b and
// org-c with each item's source; tries emergency access to an opted-out patient's
// record; Jane, in org-a's portal, sees her record, sees Dr Lee's query among those who
// saw it, and stops sharing, after which Dr Lee's next query is denied, and shares again.
//
// The tests run in this order and build on each other (the query Jane sees is the one
// the first test made; the consent change comes last).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  account,
  browserForTheseTests,
  badges,
  check,
  checkPage,
  follow,
  goto,
  mainText,
  newPage,
  origin,
  press,
  signIn,
  typeInto,
  waitForRecord,
} from './browser.mjs';

const browser = browserForTheseTests();

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

// ... and from there the record from every practice, for treatment (the purpose the
// form starts with); the response of the record page.
async function openRecord(page, family, given) {
  await openPatient(page, family, given);
  return press(page, /^Open the record from every practice$/);
}

// The "where this record came from" table: practice → status.
function holderStates(page) {
  return page.$$eval('.rv-holders tbody tr', (rows) =>
    Object.fromEntries(
      rows.map((r) => [
        r.querySelector('th').textContent.trim().split(/\s/)[0],
        r.querySelector('.status')?.textContent.trim(),
      ]),
    ),
  );
}

// The record's items whose text matches `text`: their text and the practices their
// badges name.
function itemsReading(page, text) {
  return page.$$eval(
    '.record-view .rv-item',
    (items, source, flags) =>
      items
        .filter((i) => new RegExp(source, flags).test(i.querySelector('.rv-text').textContent))
        .map((i) => ({
          text: i.querySelector('.rv-text').textContent,
          sources: [...i.querySelectorAll('.badge')].map((b) => b.textContent.trim().split(/\s/)[0]),
          folded: i.querySelector('.folded')?.textContent.trim() ?? '',
        })),
    text.source,
    text.flags,
  );
}

test('Dr Lee finds Jane and sees her record from all three practices', async () => {
  const page = await newPage(browser());
  await signIn(page, drLee());
  await follow(page, /^Patients$/);
  await checkPage(page, 'clinician-search');
  // The exchange's index matches on demographics: a family name alone is too little.
  await typeInto(page, /^Family name/, 'Oyelaran');
  await typeInto(page, /^Given name/, 'Jane');
  await typeInto(page, /^Birth date/, '1984-06-02');
  const searched = await press(page, /^Search this practice and the exchange$/);
  assert.equal(searched.status(), 200);
  const results = await mainText(page);
  assert.match(results, /At this practice[\s\S]*Jane Oyelaran\t1984-06-02\tfemale\tGP-1001/);
  // The exchange's index names the person (one enterprise id), never where she is held.
  assert.match(results, /In the exchange[\s\S]*certain\tJANE( M)? OYELARAN\t1984-06-02\t[0-9a-f]+/i);
  assert.doesNotMatch(results, /H-88812|SP-42/, 'no other practice\'s local id is shown');
  await checkPage(page, 'clinician-search-results');
  await follow(page, /^Jane Oyelaran$/);
  assert.match(page.url(), /\/app\/patients\/GP-1001$/);
  assert.equal(await page.$eval('#purpose', (s) => s.value), 'TREAT');
  await checkPage(page, 'clinician-patient-jane');

  const opened = await press(page, /^Open the record from every practice$/);
  assert.equal(opened.status(), 200);
  assert.match(page.url(), /\/app\/patients\/GP-1001\/record\?purpose=TREAT$/);
  await waitForRecord(page);
  assert.match(await page.$eval('.purpose-shown', (p) => p.textContent), /Treatment \(TREAT\)/);
  assert.deepEqual(await holderStates(page), { 'org-a': 'ok', 'org-b': 'ok', 'org-c': 'ok' });
  assert.deepEqual(await badges(page), ['org-a', 'org-b', 'org-c']);
  // One item from each practice, badged with where it came from.
  assert.deepEqual((await itemsReading(page, /^Hypertension$/)).map((i) => i.sources), [['org-a']]);
  assert.deepEqual((await itemsReading(page, /^Chest pain$/)).map((i) => i.sources), [['org-b']]);
  assert.deepEqual((await itemsReading(page, /^Echocardiography$/)).map((i) => i.sources), [['org-c']]);
  // The 142 mm[Hg] reading both the GP and the hospital sent is one item, marked folded,
  // naming both practices.
  const readings = await itemsReading(page, /^Systolic blood pressure$/);
  assert.equal(readings.length, 2, `two readings, the duplicate folded: ${JSON.stringify(readings)}`);
  const folded = readings.filter((r) => r.folded);
  assert.equal(folded.length, 1, `one reading is marked folded: ${JSON.stringify(readings)}`);
  assert.deepEqual([...folded[0].sources].sort(), ['org-a', 'org-b']);
  assert.match(folded[0].folded, /also held by org-[ab]/);
  assert.match(await page.$eval('.rv-meta', (p) => p.textContent), /\b1 duplicates? folded/);
  // The readings' trend: an SVG chart with a text alternative, one dot per reading.
  const chart = await page.$eval('figure.rv-trend svg.rv-chart', (svg) => ({
    role: svg.getAttribute('role'),
    title: svg.querySelector('title')?.textContent ?? '',
    dots: svg.querySelectorAll('circle').length,
    width: svg.getBoundingClientRect().width,
  }));
  assert.equal(chart.role, 'img');
  assert.match(chart.title, /^Trend of Systolic blood pressure \(mm\[Hg\]\): 2 values .* lowest 128, highest 142$/);
  assert.equal(chart.dots, 2);
  assert.ok(chart.width > 100, `the chart is drawn (${chart.width}px wide)`);
  await checkPage(page, 'clinician-record-jane');

  // The tablet width lays the same record out without horizontal scrolling.
  await page.setViewport({ width: 768, height: 1024 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the record scrolls sideways by ${overflow}px at tablet width`);
  await checkPage(page, 'clinician-record-jane-tablet');
  await page.close();
});

test('Dr Lee breaks the glass for a patient who opted out', async () => {
  const page = await newPage(browser());
  await signIn(page, drLee());
  // Marcus Brandt (GP-1002) opted out of the exchange: a treatment query is refused,
  // and the refusal page offers emergency access.
  const refused = await openRecord(page, 'Brandt', 'Marcus');
  assert.equal(refused.status(), 403);
  assert.match(await mainText(page), /The record cannot be opened: .*(opt|consent)/i);
  assert.equal(await page.$('.record-view'), null, 'no record is shown');
  await checkPage(page, 'clinician-record-denied-marcus');

  // Emergency access from the patient's page: a reason is required.
  await openPatient(page, 'Brandt', 'Marcus');
  await typeInto(page, /^Reason for emergency access/, 'Unconscious in the emergency department, no history known');
  const emergency = await press(page, /^Open with emergency access$/);
  assert.match(page.url(), /\/app\/patients\/GP-1002\/emergency$/);
  assert.match(await page.title(), /Emergency access/);
  assert.match(await page.$eval('.purpose-shown', (p) => p.textContent), /Emergency treatment \(ETREAT\)/);
  // Break-the-glass does not override the patient's own opt-out under the exchange's
  // default policy (break_glass_overrides_directives is false): the consent service
  // refuses, and the page says why, with nothing fetched and no second emergency form.
  assert.equal(emergency.status(), 403);
  assert.match(
    await mainText(page),
    /The record cannot be opened: .*optout-marcus-brandt.*break-the-glass does not override the patient's own directive/,
  );
  assert.equal(await page.$('.record-view'), null, 'no record is shown');
  assert.equal(await page.$('textarea#reason'), null, 'the emergency form is not offered again');
  await checkPage(page, 'clinician-break-the-glass-marcus');
  await page.close();
});

test('Jane sees her own record from every practice in the portal', async () => {
  const page = await newPage(browser());
  await signIn(page, jane());
  const response = await follow(page, /^My record$/);
  assert.equal(response.status(), 200);
  assert.match(page.url(), /\/app\/my\/record$/);
  await waitForRecord(page);
  assert.equal(await page.$eval('h1', (h) => h.textContent), 'My record');
  // Her own request reaches every practice that holds her records, each named.
  assert.deepEqual(await holderStates(page), { 'org-a': 'ok', 'org-b': 'ok', 'org-c': 'ok' });
  assert.deepEqual(await badges(page), ['org-a', 'org-b', 'org-c']);
  // The same items the clinician sees, each with the badge of where it came from.
  assert.deepEqual((await itemsReading(page, /^Hypertension$/)).map((i) => i.sources), [['org-a']]);
  assert.deepEqual((await itemsReading(page, /^Chest pain$/)).map((i) => i.sources), [['org-b']]);
  assert.deepEqual((await itemsReading(page, /^Echocardiography$/)).map((i) => i.sources), [['org-c']]);
  // Only her own record: no other patient of the practice.
  assert.doesNotMatch(await mainText(page), /Brandt|GP-1002/);
  // The page leads to where her sharing is chosen.
  assert.ok(await page.$('main a[href="/app/my/consent"]'), 'the record links to the sharing choices');
  await checkPage(page, 'portal-record');
  await page.close();
});

test("Jane's portal shows Dr Lee's query under who saw her record", async () => {
  const page = await newPage(browser());
  await signIn(page, jane());
  await checkPage(page, 'home-patient');
  await follow(page, /^Who saw my record$/);
  const text = await mainText(page);
  // Every holder's log was asked.
  assert.match(text, /^org-a \(this practice\): \d+ entries$/m);
  for (const org of ['org-b', 'org-c']) assert.match(text, new RegExp(`^${org}: [1-9]\\d* entries$`, 'm'));
  // Rows of the table (When, Practice, User, Purpose, Records of, What happened,
  // Withheld): org-a's Dr Lee looked her up for treatment, and org-b and org-c each
  // shared their records with him.
  const row = (holder, what) =>
    new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\torg-a\t[^\\t]*\\(dr\\.lee\\), clinician\tTREAT\t${holder}\t${what}\t`, 'm');
  assert.match(text, row('org-a', 'Looked up across the exchange'));
  assert.match(text, row('org-b', 'Records shared'));
  assert.match(text, row('org-c', 'Records shared'));
  await checkPage(page, 'portal-disclosures');
  await page.close();
});

// The sharing choice in the portal: the radio buttons of the opt-out, saved as a
// Consent at the consent service, then read back by the form.
async function chooseSharing(page, share) {
  await goto(page, `${origin('org-a')}/app/`);
  const form = await follow(page, /^My sharing choices$/);
  assert.equal(form.status(), 200);
  assert.match(page.url(), /\/app\/my\/consent$/);
  await check(page, share ? /^Yes: practices that treat me/ : /^No: each practice keeps my records/);
  const saved = await press(page, /^Save my choices$/);
  assert.equal(saved.status(), 200);
  assert.match(page.url(), /\/app\/my\/consent\?saved=1$/);
  assert.match(await page.$eval('.notice[role=status]', (p) => p.textContent), /Your choices are saved/);
  // The form starts from what is now on file.
  const checked = await page.$eval('input[name=share]:checked', (i) => i.value);
  assert.equal(checked, share ? 'yes' : 'no');
  return mainText(page);
}

// Last: it changes Jane's consent, and changes it back so that a rerun (and any test
// after it) finds her sharing again.
test("Jane stops sharing and Dr Lee's next query is denied; she shares again and it works", async (t) => {
  const page = await newPage(browser());
  await signIn(page, jane());
  // Should an assertion below fail after the opt-out, she shares again all the same.
  let optedOutNow = false;
  t.after(async () => {
    if (!optedOutNow) return;
    const restore = await newPage(browser());
    await signIn(restore, jane());
    await chooseSharing(restore, true);
    await restore.close();
  });
  await follow(page, /^My sharing choices$/);
  const form = await mainText(page);
  assert.match(form, /What is on file now/);
  // Every choice is a labelled radio button in a fieldset with a legend.
  const radios = await page.$$eval('form input[type=radio]', (inputs) =>
    inputs.map((i) => ({ name: i.name, labelled: !!i.labels?.length, legend: !!i.closest('fieldset')?.querySelector('legend') })),
  );
  assert.ok(radios.length >= 2, JSON.stringify(radios));
  assert.ok(radios.every((r) => r.labelled && r.legend), JSON.stringify(radios));
  assert.ok(radios.some((r) => r.name.startsWith('category-')), 'a share/keep choice per sensitive category');
  await checkPage(page, 'portal-consent');

  optedOutNow = true;
  const optedOut = await chooseSharing(page, false);
  assert.match(optedOut, /Your choices made here on \d{4}-\d\d-\d\d \d\d:\d\d UTC: You do not share your records/);
  await checkPage(page, 'portal-consent-saved');

  // Dr Lee's next treatment query of Jane is refused, with the reason, and nothing shown.
  const clinician = await newPage(browser());
  await signIn(clinician, drLee());
  const refused = await openRecord(clinician, 'Oyelaran', 'Jane');
  assert.equal(refused.status(), 403);
  assert.match(clinician.url(), /\/app\/patients\/GP-1001\/record\?purpose=TREAT$/);
  // The reason names the Consent her choice filed from the portal.
  assert.match(await mainText(clinician), /The record cannot be opened: consent denies: consent portal-\S+ .*denies TREAT/);
  assert.equal(await clinician.$('.record-view'), null, 'no record is shown');
  assert.deepEqual(await badges(clinician), []);
  await checkPage(clinician, 'clinician-record-after-opt-out');

  // Jane can still see her own record (her own request needs no sharing).
  await goto(page, `${origin('org-a')}/app/my/record`);
  await waitForRecord(page);
  assert.ok((await badges(page)).includes('org-a'), 'her own record is still hers to see');

  // She shares again, and Dr Lee's next query works as before.
  const optedIn = await chooseSharing(page, true);
  optedOutNow = false;
  assert.match(optedIn, /Your choices made here on \d{4}-\d\d-\d\d \d\d:\d\d UTC: You share your records/);
  const reopened = await openRecord(clinician, 'Oyelaran', 'Jane');
  assert.equal(reopened.status(), 200);
  await waitForRecord(clinician);
  assert.deepEqual(await holderStates(clinician), { 'org-a': 'ok', 'org-b': 'ok', 'org-c': 'ok' });
  assert.deepEqual(await badges(clinician), ['org-a', 'org-b', 'org-c']);
  await clinician.close();
  await page.close();
});
