'use strict';
// The weekly bulletin: a member sends an item, staff accept it, compose an issue, preview it
// and send it; the member gets it and the archive shows it. Every page goes through the gate.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Bulletin journeys', ({ journey }) => {
  journey('a member sends an item, staff accept it and send the issue, and the archive shows it', async (j) => {
    const { page } = j;
    const memberEmail = `rowan.${j.unique}@example.org`;
    const title = `Peer researchers wanted ${j.unique}`;

    // A member who chose to get the bulletin.
    await j.visit('/join/individual');
    await page.getByLabel('Name or pseudonym').fill('Rowan');
    await page.getByLabel('Email address').fill(memberEmail);
    await page.getByLabel(/weekly bulletin/).check();
    await j.press('Join');
    await j.signInByLink(memberEmail);

    await j.follow('Send an item for the bulletin', { scope: 'main' });
    await j.expectPath('/bulletin/submit');
    // Sending it empty: an error summary, errors by each field, nothing lost.
    await j.press('Send to the editors', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', 'Choose what kind of item this is');
    await page.getByLabel('Paid work').check();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Short description').fill('Two days a month, **paid** at the Living Wage.');
    if (j.javaScriptEnabled) await j.expectText('#description-count', 'characters left');
    await page.getByLabel('Link (optional)').fill('example.org/jobs');
    await page.getByLabel('Region (optional)').selectOption('Wales');
    await j.press('Save and finish later');
    await j.expectNotice('Your item has been saved');
    await j.expectText('.summary-list', 'Saved, not sent yet');
    await j.press('Send to the editors');
    await j.expectNotice('Your item has been sent to the editors');
    await j.expectText('.summary-list', 'Received');
    await j.follow('Your bulletin items');
    await j.expectText('table', title);
    await j.press('Sign out');

    // Staff: the first admin decides, composes and sends.
    await j.visit(j.server.setupUrl);
    await page.getByLabel('Your name').fill('Ada Editor');
    await page.getByLabel('Email address').fill(`ada.${j.unique}@example.org`);
    await j.press('Create admin account');
    await j.expectText('h1', 'Waiting for you');
    await j.follow('Bulletin', { scope: '.staff-nav' });
    await j.expectPath('/staff/bulletin');
    await j.follow('Editorial guidelines and saved replies', { scope: 'main' });
    await page.getByLabel('A new guideline point').fill('Paid work says what it pays');
    await j.press('Add the point');
    await j.expectNotice('The guidelines and replies have been saved.');
    await j.follow('Editorial queue', { scope: 'main' });
    await j.follow(title, { scope: 'main' });
    await page.getByLabel('Paid work says what it pays').check();
    await page.getByLabel('Accept', { exact: true }).check();
    await page.getByLabel('Why, for the editorial record (optional)').fill('Clear, and it says what it pays.');
    await j.press('Record the decision');
    await j.expectNotice('The decision has been recorded');

    await j.follow('Issues: compose, preview and send', { scope: 'main' });
    await j.press('Start a new issue');
    await j.expectNotice('The issue has been started.');
    await j.expectText('main', title);
    await page.getByLabel("Editor's note (optional)").fill('Welcome to this week\'s bulletin.');
    await j.press('Save');
    await j.expectNotice('The issue has been saved.');
    await j.follow('Preview as a web page', { scope: 'main' });
    await j.expectText('.bulletin', title);
    await j.expectText('.bulletin', 'Paid work');
    await j.follow(/Back to composing/, { scope: 'main' });
    await j.press('Send a test to yourself');
    await j.expectNotice('A test has been sent');
    await j.press(/Send now to \d+ people/);
    // Reaching everyone cannot be undone: a page says exactly what will happen first.
    await j.expectText('h1', 'Send issue 1 now?');
    await j.expectText('.warning-text', 'cannot be recalled');
    await j.press(/Send it to \d+ people now/);
    await j.expectNotice('The issue is being sent');
    assert.match(new URL(page.url()).pathname, /^\/staff\/bulletin\/issues\/\d+\/report$/);

    // The member gets it, and anyone can read it in the archive.
    const message = await j.outbox.waitFor(memberEmail, (m) => (m.headers.subject || '').startsWith('Weekly bulletin'));
    assert.match(message.headers['list-unsubscribe'], /\/unsubscribe\//);
    assert.equal(message.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click');
    await j.visit(new URL(page.url()).pathname);
    await j.expectText('.stats', 'sent');
    await j.press('Sign out');
    await j.follow('Knowledge');
    await j.follow('The weekly bulletin', { scope: 'main' });
    await j.expectPath('/archive/bulletin');
    await j.follow(/Weekly bulletin 1/, { scope: 'main' });
    await j.expectText('h1', 'Weekly bulletin 1');
    await j.expectText('.bulletin', title);
    await j.expectText('.bulletin', "Welcome to this week's bulletin.");
  });
});
