// The practice admin's pages in a real browser: the users list and adding a user (the
// one-time password shown once, and good for a first sign-in), the node's status (the
// MPI and the consent service reachable), an import through the upload form (import.js:
// the file sent, the job followed until its progress bar is full and it says done), and
// the audit log with its chain verified intact.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  account,
  browserForTheseTests,
  checkPage,
  choose,
  follow,
  goto,
  kStepMs,
  mainText,
  newPage,
  origin,
  press,
  signIn,
  typeInto,
} from './browser.mjs';

const browser = browserForTheseTests();

const admin = () => account('org-a', 'admin');
const run = Date.now().toString(36);

test('the admin lists the users and adds one, whose one-time password leads to choosing their own', async () => {
  const page = await newPage(browser());
  await signIn(page, admin());
  assert.match(await mainText(page), /role practice-admin/);
  await checkPage(page, 'home-admin');
  await follow(page, /^Users$/);
  const users = await page.$$eval('table.users tbody tr', (rows) =>
    rows.map((r) => [...r.cells].slice(0, 3).map((c) => c.textContent.trim())),
  );
  assert.ok(users.some(([login, , role]) => login === 'dr.lee' && role === 'clinician'), JSON.stringify(users));
  assert.ok(users.some(([login, , role]) => login === 'jane' && role === 'patient'), JSON.stringify(users));
  await checkPage(page, 'admin-users');

  const login = `dr.new.${run}`;
  await typeInto(page, /^Login/, login);
  await typeInto(page, /^Name/, 'Dr Nadia New');
  await choose(page, /^Role/, 'clinician');
  const added = await press(page, /^Add user$/);
  assert.ok(added.status() < 400, `adding a user: ${added.status()}`);
  const password = await page.$eval('.notice .password code', (c) => c.textContent.trim());
  assert.ok(password.length >= 12, `a one-time password is shown: ${password}`);
  assert.match(await mainText(page), new RegExp(`${login.replace(/\./g, '\\.')}\\tDr Nadia New\\tclinician`));
  await checkPage(page, 'admin-user-added');
  // Reloading does not show it again.
  await page.reload({ waitUntil: 'load' });
  assert.equal(await page.$('.notice .password'), null, 'the password is shown only once');

  // The new user signs in with it and is asked to choose their own.
  const newcomer = await newPage(browser());
  const first = await signIn(newcomer, { org: 'org-a', login, password });
  assert.ok(first.status() < 400, `first sign-in: ${first.status()}`);
  assert.match(newcomer.url(), /\/app\/password/, 'the first sign-in leads to choosing a password');
  await checkPage(newcomer, 'password-first-sign-in');
  await newcomer.close();
  await page.close();
});

test("the node status page shows the MPI and the consent service reachable", async () => {
  const page = await newPage(browser());
  await signIn(page, admin());
  const response = await follow(page, /^Node status$/);
  assert.equal(response.status(), 200);
  const services = await page.$$eval('table.status tbody tr', (rows) =>
    Object.fromEntries(rows.map((r) => [r.cells[0].textContent.trim(), r.cells[2].textContent.trim()])),
  );
  assert.equal(services.MPI, 'reachable', JSON.stringify(services));
  assert.equal(services['Consent service'], 'reachable', JSON.stringify(services));
  assert.match(await page.$eval('#outbox', (p) => p.textContent), /^\d+$/);
  assert.match(await page.$eval('#cert-days', (d) => d.textContent), /^\d+$/);
  await checkPage(page, 'admin-status');
  await page.close();
});

test('an import through the upload form runs to done', async () => {
  const id = `imp-${run}`;
  const bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:p',
        resource: {
          resourceType: 'Patient',
          id,
          name: [{ family: 'Upload', given: ['Ursula'] }],
          gender: 'female',
          birthDate: '1979-03-30',
        },
        request: { method: 'PUT', url: `Patient/${id}` },
      },
      {
        fullUrl: 'urn:uuid:o',
        resource: {
          resourceType: 'Observation',
          id: `${id}-hr`,
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
          subject: { reference: 'urn:uuid:p' },
          effectiveDateTime: '2025-06-01T10:00:00Z',
          valueQuantity: { value: 64, unit: '/min' },
        },
        request: { method: 'PUT', url: `Observation/${id}-hr` },
      },
    ],
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hie-web-upload-'));
  const file = path.join(dir, `${id}.json`);
  fs.writeFileSync(file, JSON.stringify(bundle));

  const page = await newPage(browser());
  try {
    await signIn(page, admin());
    await follow(page, /^Import$/);
    await checkPage(page, 'admin-import');
    const input = await page.$('#file');
    await input.uploadFile(file);
    // import.js sends the file itself and follows the job: the page does not navigate.
    await page.click('#upload button[type=submit]');
    await page.waitForFunction(
      () => /^(done|failed)\b/.test(document.getElementById('import-state').textContent),
      { timeout: kStepMs },
    );
    const state = await page.$eval('#import-state', (p) => p.textContent);
    assert.match(state, /^done: 2 records stored, 0 refused/);
    const bars = await page.$$eval('progress', (ps) => ps.map((p) => [p.id, p.value, p.max]));
    for (const [name, value, max] of bars) {
      assert.ok(max > 0 && value === max, `${name} is full: ${value} of ${max}`);
    }
    assert.deepEqual(await page.$$eval('#import-errors li', (l) => l.length), 0);
    await checkPage(page, 'admin-import-done');

    // The recent imports list it, and the records are there.
    await goto(page, `${origin('org-a')}/app/admin/import`);
    assert.match(await mainText(page), new RegExp(`${id}\\.json\\t[^\\n]*\\tdone\\t2\\t0`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await page.close();
  }
});

test('the audit log verifies its chain intact', async () => {
  const page = await newPage(browser());
  await signIn(page, admin());
  const response = await follow(page, /^Audit log$/);
  assert.equal(response.status(), 200);
  assert.ok((await page.$$('table.audit tbody tr')).length > 0, 'the log has entries');
  await checkPage(page, 'admin-audit');
  const verified = await press(page, /^Verify chain$/);
  assert.ok(verified.status() < 400, `verifying: ${verified.status()}`);
  assert.match(await page.$eval('#verify-result', (p) => p.textContent), /^Intact: [1-9]\d* entries checked/);
  await checkPage(page, 'admin-audit-verified');
  await page.close();
});
