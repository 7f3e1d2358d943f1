'use strict';
// Voice: staff open a letter; a member of the public signs it, confirms by the emailed link and
// sees themself listed by initials only; a member asks for campaign support and sees its status;
// staff find the signature and remove it.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Voice journeys', ({ journey }) => {
  journey('a visitor signs a letter, confirms by email and is listed by initials; a member asks for support', async (j) => {
    const { page } = j;
    const title = `Keep the day centres open ${j.unique}`;
    const signer = `jo.${j.unique}@example.org`;

    // Staff: the first admin writes and opens the letter.
    await j.visit(j.server.setupUrl);
    await page.getByLabel('Your name', { exact: true }).fill('Ada Organiser');
    await page.getByLabel('Email address', { exact: true }).fill(`ada.${j.unique}@example.org`);
    await j.press('Create admin account');
    await j.visit('/staff');
    await j.follow('Letters', { scope: '.staff-nav' });
    await j.follow('Write a letter or petition', { scope: 'main' });
    await page.getByLabel('Petition', { exact: true }).check();
    await page.getByLabel('Title', { exact: true }).fill(title);
    await page.getByLabel('Text', { exact: true }).fill('We ask you to **keep** the day centres open.');
    await page.getByLabel('Addressed to, or asking whom', { exact: true }).fill('The Minister for Care');
    await page.getByLabel('Goal (optional, for petitions)', { exact: true }).fill('100');
    await page.getByLabel('Published with', { exact: true }).fill('Kent Peer Network');
    await page.getByLabel('Status', { exact: true }).selectOption('open');
    await j.press('Save');
    // Opening it publishes it: a page says what that means first.
    await j.expectText('h1', `Publish “${title}”?`);
    await j.press('Publish it');
    await j.expectNotice('The letter has been saved.');
    await j.press('Sign out');

    // The public: an empty form is answered with errors; then sign with initials only.
    await j.visit('/letters');
    await j.follow(title, { scope: 'main' });
    await j.expectText('#count', '0 signatures');
    await j.press('Sign', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', 'Enter your name');
    await page.getByLabel('Your name', { exact: true }).fill('Jo Dee');
    await page.getByLabel('Email address', { exact: true }).fill(signer);
    await page.getByLabel('My initials only', { exact: true }).check();
    await j.press('Sign');
    await j.expectText('h1', 'Check your email to confirm your signature');
    const message = await j.outbox.waitFor(signer, (m) => (m.headers.subject || '').startsWith('Confirm your signature'));
    const link = message.body.match(/http\S+\/signatures\/confirm\/[A-Za-z0-9_-]+/)[0];
    await j.visit(link);
    await j.press('Confirm my signature');
    await j.expectNotice('your signature is confirmed');
    await j.expectText('#count', '1 signature');
    await j.expectText('.signatories', 'J. D.');
    assert.ok(!(await page.textContent('main')).includes('Jo Dee'), 'the full name is not shown');

    // A member asks for support and sees its status.
    await j.signUp({ name: 'Rae Campaigner', email: `rae.${j.unique}@example.org` });
    await j.follow('Ask the network to support your campaign', { scope: 'main' });
    await page.getByLabel('Title', { exact: true }).fill(`Day centre closures ${j.unique}`);
    await page.getByLabel('What is the campaign or policy issue?', { exact: true }).fill('The council plans to close three centres.');
    await page.getByLabel('Amplify it in the bulletin', { exact: true }).check();
    await j.press('Send');
    await j.expectNotice('Your request has been sent.');
    await j.expectText('main', `Day centre closures ${j.unique}`);
    await j.expectText('.summary-list', 'New');
    await j.press('Sign out');

    // Staff find the signature and remove it (as they would an abusive one); the count follows.
    await j.visit('/sign-in');
    await page.fill('#email', `ada.${j.unique}@example.org`);
    await j.press('Email me a sign-in link');
    await j.signInByLink(`ada.${j.unique}@example.org`);
    await j.visit('/staff/letters');
    await j.follow(title, { scope: 'main' });
    await j.follow('Find or remove a signature', { scope: 'main' });
    await page.getByLabel('Name or email address, or part of one', { exact: true }).fill('jo dee');
    await j.press('Find');
    await j.expectText('table', signer);
    await j.press('Remove the signature of Jo Dee');
    await j.expectText('.warning-text', 'This cannot be undone');
    await j.press('Remove the signature');
    await j.expectNotice('The signature has been removed.');
    await j.visit('/letters');
    await j.follow(title, { scope: 'main' });
    await j.expectText('#count', '0 signatures');
  });
});
