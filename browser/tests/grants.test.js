'use strict';
// Grants: staff set up a fund and a round; a member applies with the four-question form (save,
// come back, send); a panel member scores it; staff award it; the member sees the decision.
// Every page goes through the accessibility gate, with JavaScript on and off.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Grants journeys', ({ journey }) => {
  journey('a member applies, a panel member scores it, staff award it and the member sees the decision', async (j) => {
    const { page } = j;
    const memberEmail = `rowan.${j.unique}@example.org`;
    const panelEmail = `priya.${j.unique}@example.org`;
    const adminEmail = `ada.${j.unique}@example.org`;
    const roundTitle = `Spring micro-grants ${j.unique}`;

    const signIn = async (email) => {
      await j.visit('/sign-in');
      await page.fill('#email', email);
      await j.press('Email me a sign-in link');
      await j.signInByLink(email);
    };

    // Two members join: the applicant and a panel member.
    await j.signUp({ name: 'Rowan', email: memberEmail });
    await j.press('Sign out');
    await j.signUp({ name: 'Priya', email: panelEmail });
    await j.press('Sign out');

    // Staff: a fund with published criteria, a rolling round, a panel.
    await j.visit(j.server.setupUrl);
    await page.getByLabel('Your name').fill('Ada Grants');
    await page.getByLabel('Email address').fill(adminEmail);
    await j.press('Create admin account');
    await j.follow('Grants', { scope: '.staff-nav' });
    await j.expectPath('/staff/grants');
    await j.press('Start the fund', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', "Enter the fund's name");
    await page.getByLabel('Name', { exact: true }).fill('Community Fund');
    await page.getByLabel('What the fund is for').fill('Small grants for user-led groups and members.');
    await page.getByLabel('Budget in pounds').fill('5000');
    await page.getByLabel('Published criteria').fill('Led by lived experience: the people running it have been there\nReach: it reaches people others miss');
    await j.press('Start the fund');
    await j.expectNotice('The fund has been started.');
    await j.follow("Change the fund's details", { scope: 'main' });
    await page.getByLabel('Budget in pounds').fill('');
    await j.press('Save the fund', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', 'Enter an amount in pounds');
    await page.getByLabel('Budget in pounds').fill('6000');
    await j.press('Save the fund');
    await j.expectNotice("The fund's details have been saved.");
    await j.expectText('main', '£6,000');
    await page.getByLabel('Title', { exact: true }).fill(roundTitle);
    await page.getByLabel(/Rolling: always open/).check();
    await page.getByLabel('Budget for this round, in pounds').fill('2000');
    await page.getByLabel('Who decides').fill('A panel of members and staff');
    await page.getByLabel('How to get help applying').fill('Call us and we will fill it in with you.');
    await j.press('Start the round');
    await j.expectNotice('default four questions');
    await page.getByLabel('Email address of a member or staff member').fill(panelEmail);
    await page.getByLabel('How they want to be shown publicly (optional)').fill('Priya, member');
    await j.press('Add to the panel');
    await j.expectNotice('The panel member has been added.');
    await j.press('Publish and open the round');
    await j.expectNotice('The round is published and open.');
    // Its details (a deadline, the budget) can change until decisions are published.
    await j.follow("Change the round's details", { scope: 'main' });
    await page.getByLabel('Title', { exact: true }).fill('');
    await j.press('Save the round', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', "Enter the round's title");
    assert.equal(await page.getByLabel('Who decides').inputValue(), 'A panel of members and staff');
    await page.getByLabel('Title', { exact: true }).fill(roundTitle);
    await page.getByLabel('Budget for this round, in pounds').fill('2500');
    await j.press('Save the round');
    await j.expectNotice("The round's details have been saved.");
    await j.expectText('main', 'budget £2,500');
    const staffRound = new URL(page.url()).pathname;
    await j.press('Sign out');

    // The member applies: save, come back, send.
    await signIn(memberEmail);
    await j.visit('/grants');
    await j.follow(roundTitle, { scope: 'main' });
    await j.expectText('main', 'Led by lived experience');
    await j.press('Start an application');
    await j.expectNotice('Your application has been started.');
    await page.getByLabel('In a sentence, what is the money for?').fill('Room hire for our weekly peer support group');
    await j.press('Save and finish later');
    await j.expectNotice('Your application has been saved.');
    await j.follow('Resourcing', { scope: 'header' });
    await j.follow('Your applications and panels', { scope: 'main' });
    await j.expectPath('/grants/mine');
    await j.follow(roundTitle, { scope: 'main' });
    assert.equal(await page.getByLabel('In a sentence, what is the money for?').inputValue(), 'Room hire for our weekly peer support group');
    await j.press('Send application', { status: 422, focus: '.error-summary' });
    await j.expectText('.error-summary', 'Answer: What will you do, and who will it help?');
    await page.getByLabel('What will you do, and who will it help?').fill('We will meet every Tuesday and welcome new people.');
    await page.getByLabel('How much are you asking for?').fill('450');
    await page.getByLabel('Yes', { exact: true }).check();
    await j.press('Send application');
    await j.expectNotice('The application has been sent.');
    await j.expectText('main', 'Sent: waiting for a decision');
    await j.press('Sign out');

    // The panel member scores it against the two criteria.
    await signIn(panelEmail);
    await j.visit('/grants/mine');
    await j.follow(roundTitle, { scope: 'main' });
    await j.follow('Rowan', { scope: 'main' });
    await j.expectText('main', 'We will meet every Tuesday');
    await page.getByRole('group', { name: 'Led by lived experience' }).getByLabel('3 – strongly').check();
    await page.getByRole('group', { name: 'Reach' }).getByLabel('2 – clearly').check();
    await j.press('Save scores');
    await j.expectNotice('Your scores have been saved.');
    await j.expectText('table', 'Scored');
    await j.press('Sign out');

    // Staff read the scoring table and award it.
    await signIn(adminEmail);
    await j.visit(staffRound);
    await j.follow('Scoring table', { scope: 'main' });
    await j.expectText('table', 'Rowan');
    await j.follow('Rowan', { scope: 'main' });
    await page.getByLabel('Award what they asked for').check();
    await page.getByLabel('Reason, written for the applicant').fill('The panel loved the weekly room.');
    await j.press('Record the decision and email the applicant');
    // Money is spent and the decision cannot be changed: a page says so first.
    await j.expectText('.warning-text', 'This awards £450 from Community Fund to Rowan.');
    await j.press('Record the decision and email them');
    await j.expectNotice('The decision has been recorded');
    await j.press('Sign out');

    // The member hears by email and sees the decision with every message in one place.
    const message = await j.outbox.waitFor(memberEmail, (m) => (m.headers.subject || '').startsWith('A decision on your application'));
    assert.match(message.body, /you have been awarded £450/);
    await signIn(memberEmail);
    await j.visit('/grants/mine');
    await j.expectText('main', 'Awarded');
    await j.follow(roundTitle, { scope: 'main' });
    await j.expectText('main', 'The panel loved the weekly room.');
    await j.expectText('main', 'We have received your application');
  });
});
