'use strict';
// Journey 4: the first admin (made with the setup link the server prints) searches the members
// directory, checks a CSV with mistakes, imports a clean one, and downloads the export.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Staff journeys', ({ journey }) => {
  journey('the first admin searches members, imports a CSV after fixing it, and downloads the export', async (j) => {
    const { page } = j;
    const tag = j.unique;
    const adminEmail = `admin.${tag}@example.org`;

    await j.visit(j.server.setupUrl);
    await j.expectText('h1', 'Set up the first admin account');
    await page.getByLabel('Your name').fill('Ada Admin');
    await page.getByLabel('Email address').fill(adminEmail);
    await j.press('Create admin account');
    await j.expectPath('/staff');
    await j.expectNotice('You are signed in.');

    await j.expectText('h1', 'Waiting for you');
    await j.follow('People', { scope: '.staff-nav' });
    await j.expectPath('/staff/people');
    await j.follow('The members directory', { scope: 'main' });
    await j.expectPath('/staff/members');
    await page.getByLabel('Search').fill('Ada');
    await j.press('Search');
    assert.equal(new URL(page.url()).searchParams.get('q'), 'Ada');
    assert.match(await j.text('main [role="status"]'), /\b1 member\b/);
    await j.expectText('table', adminEmail);

    // A file with mistakes: a report of problems, and nothing imported.
    await j.follow('Import members and groups', { scope: 'main' });
    await j.expectPath('/staff/import');
    await j.press('Check the file', { status: 422 });
    await j.expectText('.error-summary', 'Choose a CSV file to import');
    await page.getByLabel('Members').check();
    await page.getByLabel('CSV file').setInputFiles({
      name: 'members-with-mistakes.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`Name,Email address,Region,Bulletin\nPat Example,pat.${tag}@example.org,Atlantis,yes\n,no-name.${tag}@example.org,,\nLee,not-an-email,,maybe\n`),
    });
    await j.press('Check the file', { status: 422 });
    assert.match(await page.title(), /^Error: Import check found problems/);
    await j.expectText('.error-summary', 'problems found. Nothing has been imported');
    const problems = await j.text('#problems + .table-wrap table');
    assert.match(problems, /Choose a region from the list/);
    assert.match(problems, /Enter a name or pseudonym/);
    assert.match(problems, /Use yes or no/);
    assert.equal(await page.getByRole('button', { name: 'Import now' }).count(), 0, 'no import is offered while there are problems');

    // A clean file: checked, then imported.
    await j.follow('Check another file', { scope: 'main' });
    await page.getByLabel('CSV file').setInputFiles({
      name: 'members.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`\ufeffFull name,E-mail,Region,Communities,Bulletin,Directory\r\nPat Example,pat.${tag}@example.org,Wales,Peer support,yes,no\r\nSam Sample,sam.${tag}@example.org,,,,\r\n`),
    });
    await j.press('Check the file');
    assert.match(await page.title(), /^Import check: ready to import/);
    await j.expectText('.stats', '2');
    await j.press('Import now');
    await j.expectPath('/staff/members');
    await j.expectNotice('The import is complete.');

    await page.getByLabel('Search').fill('Pat Example');
    await j.press('Search');
    await j.expectText('table', `pat.${tag}@example.org`);

    const { filename, text } = await j.download(() => page.getByRole('link', { name: 'Download all members as a spreadsheet (CSV)' }).click());
    assert.equal(filename, 'members.csv');
    const lines = text.replace(/^\ufeff/, '').trim().split(/\r\n/);
    assert.equal(lines[0], 'id,name,email,region,communities,status,joined,bulletin,directory,research');
    assert.equal(lines.length, 4, 'the admin and the two imported members');
    assert.ok(lines.some((l) => l.includes(`Pat Example,pat.${tag}@example.org,Wales,Peer support,active`) && l.endsWith(',yes,no,no')), text);
    assert.ok(lines.some((l) => l.includes(adminEmail)), text);
  });
});
