'use strict';
// The finished interface: error pages that know who is signed in, the staff start page's queues
// and the person search, a wide table on a phone, and the confirmation before publishing a
// round's decisions. Every page goes through the gate (focus contrast, CSP, axe, reflow).
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Interface journeys', ({ journey }) => {
  journey('a member meets a malformed address and a missing page, each a page in the layout', async (j) => {
    await j.signUp({ name: 'Quinn', email: `quinn.${j.unique}@example.org` });
    await j.visit('/groups?page=abc', { status: 400 });
    await j.expectText('h1', 'Something in that address was not right');
    await j.expectText('header', 'Your account');
    await j.visit('/grants/rounds/abc', { status: 400 });
    await j.expectText('h1', 'Something in that address was not right');
    await j.visit('/no/such/page', { status: 404 });
    await j.expectText('h1', 'Page not found');
    await j.expectText('header', 'Sign out');
    assert.ok(!(await j.text('header')).includes('Join'), 'signed in, the header does not offer to join');
    await j.follow('Go to the home page', { scope: 'main' });
    await j.expectPath('/');
  });

  journey('staff see what is waiting, find a person and everything held, read a wide table on a phone, and confirm before publishing', async (j) => {
    const { page } = j;
    const member = `Skye Waiting ${j.unique}`;
    const memberEmail = `skye.${j.unique}@example.org`;
    await j.signUp({ name: member, email: memberEmail });
    await j.follow('Send an item for the bulletin', { scope: 'main' });
    await page.getByLabel('News').check();
    await page.getByLabel('Title').fill(`Allotment open day ${j.unique}`);
    await page.getByLabel('Short description').fill('Come and plant something.');
    await j.press('Send to the editors');
    await j.press('Sign out');

    await j.visit(j.server.setupUrl);
    await page.getByLabel('Your name').fill('Ada Staff');
    await page.getByLabel('Email address').fill(`ada.${j.unique}@example.org`);
    await j.press('Create admin account');
    await j.expectText('h1', 'Waiting for you');
    await j.expectText('.queues', '1 bulletin items to decide');
    await j.expectText('.queues', 'the oldest has waited');
    await j.follow('1 bulletin items to decide', { scope: '.queues' });
    await j.expectPath('/staff/bulletin');

    await j.follow('People', { scope: '.staff-nav' });
    await page.getByLabel('Name, pseudonym or email').fill('Skye');
    await j.press('Find');
    await j.follow(member, { scope: 'main' });
    await j.expectText('h1', `Everything we hold about ${member}`);
    await j.expectText('main', `Bulletin item “Allotment open day ${j.unique}” (received)`);
    await j.expectText('main', memberEmail);

    // The directory's wide table on a phone: it scrolls in its own labelled region, the page
    // does not, and no word is broken to squeeze a column.
    await page.setViewportSize({ width: 390, height: 800 });
    await j.visit('/staff/members');
    const region = page.locator('.table-wrap[role="region"]');
    assert.ok(await region.getAttribute('aria-label'), 'the region is labelled');
    assert.equal(await region.getAttribute('tabindex'), '0', 'the region can be reached to scroll it by keyboard');
    const sizes = await page.evaluate(() => {
      const wrap = document.querySelector('.table-wrap');
      const th = [...document.querySelectorAll('th')].find((t) => t.textContent.trim() === 'Status');
      const line = parseFloat(getComputedStyle(th).lineHeight) || 24;
      return { page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
        wrap: wrap.scrollWidth, wrapBox: wrap.clientWidth, statusHeight: th.getBoundingClientRect().height, line };
    });
    assert.ok(sizes.page <= sizes.viewport + 1, `the page itself does not scroll sideways: ${JSON.stringify(sizes)}`);
    assert.ok(sizes.wrap > sizes.wrapBox, `the table scrolls inside its region: ${JSON.stringify(sizes)}`);
    assert.ok(sizes.statusHeight < sizes.line * 2 + 20, `"Status" is on one line, not broken: ${JSON.stringify(sizes)}`);
    await page.setViewportSize({ width: 1280, height: 720 });

    // Publishing a round's decisions cannot be undone: a page says so before it happens.
    await j.follow('Grants', { scope: '.staff-nav' });
    await page.getByLabel('Name', { exact: true }).fill('Small Fund');
    await page.getByLabel('What the fund is for').fill('Small grants.');
    await page.getByLabel('Budget in pounds').fill('1000');
    await page.getByLabel('Published criteria').fill('Reach: it reaches people others miss');
    await j.press('Start the fund');
    await page.getByLabel('Title', { exact: true }).fill(`Autumn round ${j.unique}`);
    await page.getByLabel(/Rolling: always open/).check();
    await page.getByLabel('Budget for this round, in pounds').fill('1000');
    await page.getByLabel('Who decides').fill('Staff');
    await page.getByLabel('How to get help applying').fill('Call us.');
    await j.press('Start the round');
    await j.press('Publish and open the round');
    await j.press('Close the round and publish its decisions');
    await j.expectText('h1', `Close Autumn round ${j.unique} and publish its decisions?`);
    await j.expectText('.warning-text', 'This cannot be undone.');
    await j.follow('No, go back', { scope: 'main' });
    await j.expectText('main', 'Close the round and publish its decisions');
    await j.press('Close the round and publish its decisions');
    await j.press('Close the round and publish');
    await j.expectNotice('The round is closed and its decisions are published.');
  });

});
