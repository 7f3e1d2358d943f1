'use strict';
// Journey 3: the join form, sent empty and then with a bad email, explains what is wrong in a
// summary (which takes focus) and beside each field, and keeps what was typed.
const assert = require('node:assert/strict');
const { journeys } = require('../lib/harness');

journeys('Join form errors', ({ journey }) => {
  journey('errors are summarised, shown inline, keep what was typed, and focus moves to the summary', async (j) => {
    const { page } = j;
    await j.visit('/join/individual');

    // Empty first. The summary must have focus before the gate tabs through the page.
    const navigation = page.waitForNavigation({ waitUntil: 'load' });
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    j.expectStatus(await navigation, 422);
    assert.match(await page.title(), /^Error: Join as an individual/);
    await j.expectFocus('.error-summary');
    const summary = page.locator('.error-summary');
    assert.equal(await summary.getAttribute('role'), 'alert');
    assert.deepEqual(await summary.getByRole('link').allInnerTexts(), ['Enter a name or pseudonym', 'Enter your email address']);
    assert.deepEqual(await summary.getByRole('link').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), ['#display_name', '#email']);
    await j.expectText('#display_name-error', 'Enter a name or pseudonym');
    await j.expectText('#email-error', 'Enter your email address');
    assert.equal(await page.locator('.error-message').count(), 2);
    assert.equal(await page.locator('#email').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#email').getAttribute('aria-describedby'), /\bemail-error\b/);
    await j.gate();

    // Then a name, a bad email and some choices: only the email is wrong, the rest is kept.
    await page.getByLabel('Name or pseudonym').fill('Wren of the Hills');
    await page.getByLabel('Email address').fill('wren-at-example');
    await page.getByLabel('Region (optional)').selectOption('Scotland');
    await page.getByLabel('Carers').check();
    const longCommunity = 'People who grow vegetables together on shared allotments in town';
    await page.getByLabel('Other communities, separated by commas').fill(`Allotment growers, ${longCommunity}`);
    await page.getByLabel(/members' directory/).check();
    const second = page.waitForNavigation({ waitUntil: 'load' });
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    j.expectStatus(await second, 422);
    await j.expectFocus('.error-summary');
    assert.deepEqual(await page.locator('.error-summary').getByRole('link').allInnerTexts(), [
      'Enter an email address in the correct format, like name@example.com',
      'Each community must be 60 characters or fewer',
    ]);
    assert.equal(await page.locator('.error-message').count(), 2);
    await j.expectText('#email-error', 'Enter an email address in the correct format');
    assert.equal(await page.locator('#display_name').inputValue(), 'Wren of the Hills');
    assert.equal(await page.locator('#email').inputValue(), 'wren-at-example');
    assert.equal(await page.locator('#region').inputValue(), 'Scotland');
    assert.ok(await page.getByLabel('Carers').isChecked(), 'a ticked community stays ticked');
    assert.ok(!(await page.getByLabel('Peer support').isChecked()), 'an unticked community stays unticked');
    assert.equal(await page.locator('#communities_other').inputValue(), `Allotment growers, ${longCommunity}`);
    assert.ok(await page.getByLabel(/members' directory/).isChecked(), 'a ticked choice stays ticked');
    assert.equal(await page.locator('#display_name').getAttribute('aria-invalid'), null);
    await j.gate();

    // The summary's link leads to the field; correcting it completes the join.
    await page.locator('.error-summary a[href="#email"]').click();
    assert.equal(new URL(page.url()).hash, '#email');
    await page.getByLabel('Email address').fill(`wren.${j.unique}@example.org`);
    await page.getByLabel('Other communities, separated by commas').fill('Allotment growers');
    await j.press('Join');
    await j.expectPath('/join/check-email');
  });
});
