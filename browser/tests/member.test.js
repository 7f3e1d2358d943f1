'use strict';
// Journeys 1 and 2: a visitor joins with a pseudonym, manages, downloads and deletes their
// account; a member registers a group and is shown as its contact.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Member journeys', ({ journey }) => {
  journey('a visitor joins with a pseudonym, manages their account, downloads their data and deletes it', async (j) => {
    const email = `kestrel.${j.unique}@example.org`;
    await j.visit('/');
    await j.expectText('h1', 'Constellate');
    await j.follow('Join the network', { scope: 'main' });
    await j.expectPath('/join');
    await j.follow('Join as an individual', { scope: 'main' });
    await j.expectPath('/join/individual');

    await j.page.getByLabel('Name or pseudonym').fill('Kestrel');
    await j.page.getByLabel('Email address').fill(email);
    await j.page.getByLabel('Region (optional)').selectOption('Wales');
    await j.page.getByLabel('Peer support').check();
    await j.page.getByLabel(/weekly bulletin/).check();
    await j.press('Join');
    await j.expectPath('/join/check-email');
    await j.expectText('h1', 'Check your email to finish joining');

    const link = await j.outbox.signInLink(email);
    await j.visit(link);
    await j.expectText('h1', 'Finish signing in');
    await j.press('Sign in');
    await j.expectPath('/me');
    await j.expectNotice('You are signed in.');
    await j.expectText('.summary-list', 'Kestrel');
    await j.expectText('.summary-list', 'Wales');
    await j.expectText('.summary-list', 'Peer support');

    await j.follow('Change your profile');
    await j.expectPath('/me/edit');
    await j.page.getByLabel('Name or pseudonym').fill('Kestrel Moon');
    await j.page.getByLabel('Communities you are part of (optional)').fill('Peer support, Night owls');
    await j.page.getByLabel('Public: anyone can see your profile').check();
    await j.page.getByLabel('Access needs (optional)').fill('Step-free access, please.');
    await j.press('Save profile');
    await j.expectPath('/me');
    await j.expectNotice('Your profile has been saved.');
    await j.expectText('.summary-list', 'Kestrel Moon');
    await j.expectText('.summary-list', 'Night owls');
    await j.expectText('.summary-list', 'Recorded (stored encrypted)');

    await j.follow('Change your choices');
    await j.expectPath('/me/consents');
    await j.page.getByLabel(/weekly bulletin/).uncheck();
    await j.page.getByLabel(/research or paid opportunities/).check();
    await j.press('Save choices');
    await j.expectPath('/me');
    await j.expectNotice('Your choices have been saved.');
    const choices = await j.text('main ul');
    assert.match(choices, /weekly bulletin[^\n]*No/);
    assert.match(choices, /research or paid opportunities[^\n]*Yes/);

    const { filename, text } = await j.download(() => j.page.getByRole('link', { name: 'Download everything we hold about you' }).click());
    assert.equal(filename, 'my-data.json');
    const data = JSON.parse(text);
    assert.equal(data.format, 'constellate-member-export/1');
    assert.equal(data.member.display_name, 'Kestrel Moon');
    assert.equal(data.member.email, email);
    assert.equal(data.member.access_needs, 'Step-free access, please.');
    assert.ok(data.consents.some((c) => c.purpose === 'research' && c.granted), 'the export lists the research choice');

    await j.follow('Delete your account');
    await j.expectPath('/me/delete');
    await j.press('Delete my account');
    await j.expectPath('/');
    await j.expectNotice('Your account and personal data have been deleted.');
    await j.expectText('nav[aria-label="Main"]', 'Sign in');
    assert.equal(j.outbox.messagesTo(email).length, 0, 'mail to the deleted member is erased from the outbox');
    const after = await j.page.goto(j.url('/me'));
    assert.equal(new URL(after.url()).pathname, '/sign-in', 'the account page asks for sign-in once the account is gone');
  });

  journey('a member registers a group and is shown as its contact', async (j) => {
    const email = `robin.${j.unique}@example.org`;
    const group = `Tuesday Walkers ${j.unique}`;
    await j.signUp({ name: 'Robin', email });
    await j.follow('Register a group', { scope: 'main' });
    await j.expectPath('/groups/new');
    await j.press('Save group', { status: 422 });
    assert.deepEqual(await j.page.locator('.error-summary').getByRole('link').allInnerTexts(), [
      "Enter the group's name",
      'Say in a sentence or two what the group does',
      'Say whether the group is led by people with lived experience',
    ]);
    await j.page.getByLabel('Group name').fill(group);
    await j.page.getByLabel("What the group does, in its own words").fill('We walk together every **Tuesday** and talk.');
    await j.page.getByLabel('Region (optional)').selectOption('North West');
    await j.page.getByRole('group', { name: 'Is the group led by people with lived experience?' }).getByLabel('Yes').check();
    await j.page.getByLabel('Anyone (listed publicly)').check();
    await j.press('Save group');
    assert.match(new URL(j.page.url()).pathname, /^\/groups\/\d+$/);
    await j.expectNotice('The group has been saved.');
    await j.expectText('h1', group);
    await j.expectText('.panel', 'We walk together every Tuesday and talk.');
    const contacts = j.page.locator('h2:has-text("Contact the group") ~ ul').first();
    assert.deepEqual(await contacts.getByRole('link').allInnerTexts(), ['Robin']);

    await j.follow('Your account');
    await j.expectText('main', group);
    await j.follow('Collaboration');
    await j.follow('Groups in the network', { scope: 'main' });
    await j.expectPath('/groups');
    await j.expectText('main ul', `${group} (North West)`);
  });
});
