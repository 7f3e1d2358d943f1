'use strict';
// Keyboard only: the skip link, then journey 1's join form and sign-in done with Tab, typing,
// Space and Enter — no mouse, no fill().
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
});
