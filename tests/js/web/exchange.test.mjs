// The web app's main story across the devnet's three practices, in order, in a real
// browser: Dr Lee at org-a finds Jane Oyelaran and sees her record from org-a, org-b and
// org-c with each item's source; tries emergency access to an opted-out patient's
// record; Jane, in org-a's portal, sees her record, sees Dr Lee's query among those who
// saw it, and stops sharing, after which Dr Lee's next query is denied.
//
// The tests run in this order and build on each other (the query Jane sees is the one
// the first test made; the consent change comes last).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  account,
  badges,
  check,
  checkPage,
  follow,
  goto,
  launch,
  mainText,
  newPage,
  origin,
  press,
  signIn,
  typeInto,
  waitForRecord,
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
  const page = await newPage(browser);
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
  const page = await newPage(browser);
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

test('Jane sees her own record from every practice in the portal', { todo: 'page not yet built' }, async () => {
  const page = await newPage(browser);
  await signIn(page, jane());
  await follow(page, /^My record$/);
  await waitForRecord(page);
  assert.deepEqual((await badges(page)).sort(), ['org-a', 'org-b', 'org-c']);
  await checkPage(page, 'portal-record');
  await page.close();
});

test("Jane's portal shows Dr Lee's query under who saw her record", async () => {
  const page = await newPage(browser);
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
