'use strict';
// Keyboard only: the skip link, then journeys 1 to 4 done with Tab, Shift+Tab, typing, Space and
// Enter — no mouse, no fill(), no click(). Code only reads the page and the outbox.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Keyboard-only journeys', ({ journey }) => {
  journey('the skip link is the first Tab stop and moves focus to the main content', async (j) => {
    const { page } = j;
    await j.visit('/');
    await page.goto(j.url('/')); // a fresh load: the gate has already moved focus around
    await page.keyboard.press('Tab');
    const first = await j.focused();
    assert.equal(first && first.text, 'Skip to main content', 'the first Tab reaches the skip link');
    assert.ok(first.visible, 'the skip link shows focus');
    assert.ok(await page.getByRole('link', { name: 'Skip to main content' }).isVisible(), 'the focused skip link is on screen');
    await page.keyboard.press('Enter');
    await j.expectFocus('#main');
    assert.equal(new URL(page.url()).hash, '#main');
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => document.getElementById('main').contains(document.activeElement)), 'the next Tab stays in the main content');
  });

  journey('a visitor joins and signs in using only the keyboard', async (j) => {
    const { page, javaScriptEnabled } = j;
    const email = `linnet.${j.unique}@example.org`;
    await j.visit('/join/individual');

    // Sent empty with Enter from the first field: the error summary takes focus.
    await j.tabTo('#display_name');
    await j.go(() => page.keyboard.press('Enter'), { status: 422 });
    await page.goto(j.url('/join/individual'));

    await j.tabTo('#display_name');
    await page.keyboard.type('Linnet');
    await j.tabTo('#email');
    await page.keyboard.type(email);
    await j.tabTo('#region');
    await page.keyboard.type('Wales');
    await j.tabTo('#community-1');
    await page.keyboard.press('Space');
    await j.tabTo('#consent-bulletin');
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#display_name').inputValue(), 'Linnet');
    assert.equal(await page.locator('#email').inputValue(), email);
    assert.equal(await page.locator('#region').inputValue(), 'Wales', `typing on the region select chooses it (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`);
    assert.ok(await page.locator('#community-1').isChecked(), 'Space ticks a community');
    assert.ok(await page.locator('#consent-bulletin').isChecked(), 'Space ticks a choice');
    const button = await j.tabTo('main form button[type="submit"]');
    assert.equal(button.text, 'Join');
    await j.go(() => page.keyboard.press('Enter'));
    await j.expectPath('/join/check-email');

    const link = await j.outbox.signInLink(email);
    await j.visit(link);
    const signIn = await j.tabTo('main form button[type="submit"]');
    assert.equal(signIn.text, 'Sign in');
    await j.go(() => page.keyboard.press('Space'));
    await j.expectPath('/me');
    await j.expectNotice('You are signed in.');
    await j.expectText('.summary-list', 'Linnet');
    await j.expectText('.summary-list', 'Wales');
    await j.expectText('.summary-list', 'Peer support');

    // And out again, still by keyboard: the sign-out button in the header.
    const signOut = await j.tabTo('nav button[type="submit"]');
    assert.equal(signOut.text, 'Sign out');
    await j.go(() => page.keyboard.press('Enter'));
    await j.expectNotice('You have signed out.');
  });
  // Journey 2 by keyboard: a member registers a group and is shown as its contact.
  journey('a member registers a group using only the keyboard', async (j) => {
    const { page } = j;
    const email = `robin.${j.unique}@example.org`;
    const group = `Tuesday Walkers ${j.unique}`;
    await j.signUpByKeyboard({ name: 'Robin', email });
    await j.tabToLink('Register a group', { scope: 'main' });
    await j.key('Enter');
    await j.expectPath('/groups/new');

    // Sent empty: the summary takes focus and lists what is missing.
    await j.tabToButton('Save group');
    await j.key('Enter', { status: 422, focus: '.error-summary' });
    assert.deepEqual(await page.locator('.error-summary').getByRole('link').allInnerTexts(), [
      "Enter the group's name",
      'Say in a sentence or two what the group does',
      'Say whether the group is led by people with lived experience',
    ]);

    await j.typeInto('#name', group);
    await j.typeInto('#description', 'We walk together every **Tuesday** and talk.');
    await j.typeInto('#region', 'North West');
    await j.tabTo('#lived_experience_led');
    await page.keyboard.press('Space');
    await j.tabTo('#visibility');
    await page.keyboard.press('Space');
    // Back up with Shift+Tab to check the answer to the first question is still there.
    await j.tabTo('#lived_experience_led', { back: true });
    assert.equal(await page.locator('#name').inputValue(), group);
    assert.equal(await page.locator('#description').inputValue(), 'We walk together every **Tuesday** and talk.');
    assert.equal(await page.locator('#region').inputValue(), 'North West', 'typing on the region select chooses it');
    assert.ok(await page.locator('#lived_experience_led').isChecked(), 'Space chooses "Yes"');
    assert.ok(await page.locator('#visibility').isChecked(), 'Space chooses "Anyone"');
    await j.tabToButton('Save group');
    await j.key('Space');
    assert.match(new URL(page.url()).pathname, /^\/groups\/\d+$/);
    await j.expectNotice('The group has been saved.');
    await j.expectText('h1', group);
    await j.expectText('.panel', 'We walk together every Tuesday and talk.');
    assert.deepEqual(await page.locator('h2:has-text("Contact the group") ~ ul').first().getByRole('link').allInnerTexts(), ['Robin']);

    await j.tabToLink('Your account', { scope: 'nav' });
    await j.key('Enter');
    await j.expectPath('/me');
    await j.expectText('main', group);
    await j.tabToLink('Collaboration', { scope: 'nav' });
    await j.key('Enter');
    await j.expectPath('/collaboration');
    await j.tabToLink('Groups in the network', { scope: 'main' });
    await j.key('Enter');
    await j.expectPath('/groups');
    await j.expectText('main ul', `${group} (North West)`);
  });

  // Journey 3 by keyboard: the join form sent empty, then with a wrong email; the summary takes
  // focus each time, and its link leads to the field to correct.
  journey('join form errors are found and corrected using only the keyboard', async (j) => {
    const { page } = j;
    await j.visit('/join/individual');
    await j.tabToButton('Join');
    await j.key('Enter', { status: 422, focus: '.error-summary' });
    assert.match(await page.title(), /^Error: Join as an individual/);
    assert.deepEqual(await page.locator('.error-summary').getByRole('link').allInnerTexts(), ['Enter a name or pseudonym', 'Enter your email address']);

    // The summary's first link, by keyboard, leads to the name field.
    await j.tabToLink('Enter a name or pseudonym', { scope: '.error-summary' });
    await page.keyboard.press('Enter');
    await j.expectFocus('#display_name');
    await page.keyboard.type('Wren of the Hills');
    await j.typeInto('#email', `wren.${j.unique}`); // no "@domain": wrong
    await j.typeInto('#region', 'Scotland');
    const carers = await page.getByLabel('Carers').getAttribute('id');
    await j.tabTo(`#${carers}`);
    await page.keyboard.press('Space');
    const directory = await page.getByLabel(/members' directory/).getAttribute('id');
    await j.tabTo(`#${directory}`);
    await page.keyboard.press('Space');
    await j.tabToButton('Join');
    await j.key('Enter', { status: 422, focus: '.error-summary' });
    assert.deepEqual(await page.locator('.error-summary').getByRole('link').allInnerTexts(), [
      'Enter an email address in the correct format, like name@example.com',
    ]);
    await j.expectText('#email-error', 'Enter an email address in the correct format');
    assert.equal(await page.locator('#display_name').inputValue(), 'Wren of the Hills');
    assert.equal(await page.locator('#region').inputValue(), 'Scotland');
    assert.ok(await page.locator(`#${carers}`).isChecked(), 'a ticked community stays ticked');
    assert.ok(await page.locator(`#${directory}`).isChecked(), 'a ticked choice stays ticked');

    // The summary link leads to the email field, which keeps what was typed: finish it, send.
    await j.tabToLink('Enter an email address in the correct format, like name@example.com', { scope: '.error-summary' });
    await page.keyboard.press('Enter');
    await j.expectFocus('#email');
    assert.equal(await page.locator('#email').inputValue(), `wren.${j.unique}`);
    await page.keyboard.press('End');
    await page.keyboard.type('@example.org');
    await j.key('Enter');
    await j.expectPath('/join/check-email');
    assert.equal((await j.outbox.signInLink(`wren.${j.unique}@example.org`)).length > 0, true);
  });

  // Journey 4 by keyboard: the first admin searches the directory and imports a CSV, opening
  // the file picker with Space on the file input (Tab reaches it), as a keyboard user does.
  // (Enter opens it too with JavaScript on, but not reliably in headless Chromium with it off.)
  journey('the first admin searches members and imports a CSV using only the keyboard', async (j) => {
    const { page } = j;
    const tag = j.unique;
    const adminEmail = `admin.${tag}@example.org`;
    await j.visit(j.server.setupUrl);
    await j.typeInto('#display_name', 'Ada Keyboard');
    await j.typeInto('#email', adminEmail);
    await j.tabToButton('Create admin account');
    await j.key('Enter');
    await j.expectPath('/staff');
    await j.expectNotice('You are signed in.');

    await j.tabToLink('People', { scope: '.staff-nav' });
    await j.key('Enter');
    await j.expectPath('/staff/people');
    await j.tabToLink('The members directory', { scope: 'main' });
    await j.key('Enter');
    await j.expectPath('/staff/members');
    await j.typeInto('#q', 'Ada Keyboard');
    await j.key('Enter');
    assert.equal(new URL(page.url()).searchParams.get('q'), 'Ada Keyboard');
    assert.match(await j.text('main [role="status"]'), /\b1 member\b/);
    await j.expectText('table', adminEmail);

    await j.tabToLink('Import members and groups', { scope: 'main' });
    await j.key('Enter');
    await j.expectPath('/staff/import');
    await j.tabToButton('Check the file');
    await j.key('Enter', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', 'Choose a CSV file to import');
    assert.ok(await page.locator('#kind-members').isChecked(), '"Members" is chosen by default');
    await j.chooseFile('#file', {
      name: 'members-with-mistakes.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`Name,Email address,Region,Bulletin\nPat Example,pat.${tag}@example.org,Atlantis,yes\nLee,not-an-email,,maybe\n`),
    }, { key: 'Space' });
    assert.deepEqual(await page.locator('#file').evaluate((el) => [...el.files].map((f) => f.name)), ['members-with-mistakes.csv']);
    await j.tabToButton('Check the file');
    await j.key('Enter', { status: 422, focus: '.error-summary' });
    assert.match(await page.title(), /^Error: Import check found problems/);
    const problems = await j.text('#problems + .table-wrap table');
    assert.match(problems, /Choose a region from the list/);
    assert.match(problems, /Use yes or no/);
    assert.equal(await page.locator('button:has-text("Import now")').count(), 0, 'no import is offered while there are problems');

    await j.tabToLink('Check another file', { scope: 'main' });
    await j.key('Enter');
    await j.expectPath('/staff/import');
    await j.chooseFile('#file', {
      name: 'members.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`Full name,E-mail,Region,Communities,Bulletin,Directory\r\nPat Example,pat.${tag}@example.org,Wales,Peer support,yes,no\r\nSam Sample,sam.${tag}@example.org,,,,\r\n`),
    }, { key: 'Space' });
    await j.tabToButton('Check the file');
    await j.key('Space');
    assert.match(await page.title(), /^Import check: ready to import/);
    await j.expectText('.stats', '2');
    await j.tabToButton('Import now');
    await j.key('Enter');
    await j.expectPath('/staff/members');
    await j.expectNotice('The import is complete.');

    await j.typeInto('#q', `pat.${tag}`);
    await j.key('Enter');
    assert.match(await j.text('main [role="status"]'), /\b1 member\b/);
    await j.expectText('table', 'Pat Example');

    await j.tabToLink('Download all members as a spreadsheet (CSV)', { scope: 'main' });
    const { filename, text } = await j.download(() => page.keyboard.press('Enter'));
    assert.equal(filename, 'members.csv');
    assert.ok(text.includes(`Pat Example,pat.${tag}@example.org,Wales,Peer support,active`), text);
    assert.ok(text.includes(`sam.${tag}@example.org`), text);
  });
});
