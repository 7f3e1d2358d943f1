'use strict';
// The journey harness: one headless Debian Chromium per test file, one fresh Constellate server
// per mode (JavaScript on, JavaScript off), one fresh browser context per journey. Every page a
// journey reaches through visit(), go(), follow() or press() goes through the gate.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { chromium } = require('playwright-core');

const { startServer } = require('./server');
const { Outbox } = require('./mail');
const { runGate, NetworkLog, TitleRegistry, focused } = require('./gate');

const EXECUTABLE = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
];
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const SCREENS = path.join(ARTIFACTS, 'screens');
const SCREENSHOTS = ['1', 'true', 'yes'].includes(String(process.env.SCREENSHOTS || '').toLowerCase());
const MODES = [
  { name: 'js', label: 'JavaScript on', javaScriptEnabled: true },
  { name: 'no-js', label: 'JavaScript off', javaScriptEnabled: false },
];

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

async function launchBrowser() {
  if (!fs.existsSync(EXECUTABLE)) {
    throw new Error(`Chromium not found at ${EXECUTABLE}: install Debian's package (apt-get install -y chromium); scripts/browser-test does this.`);
  }
  try {
    // launch() gives the browser a fresh temporary profile (user-data dir), removed on close.
    return await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
  } catch (e) {
    throw new Error(`Chromium (${EXECUTABLE}) could not start, so no journey can run:\n${e.message}`);
  }
}

/** What a journey function gets: the page plus helpers that gate every page they reach. */
class Journey {
  constructor(page, env, state) {
    this.page = page;
    this.env = env;
    this.server = env.server;
    this.outbox = env.outbox;
    this.mode = env.mode;
    this.javaScriptEnabled = env.mode.javaScriptEnabled;
    this.state = state;
    this.unique = `${env.mode.name.replace('-', '')}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  }

  url(p) { return new URL(p, this.server.baseUrl).toString(); }

  /** Runs the accessibility gate on the page as it is now. */
  gate() { return runGate(this.page, this.state); }

  /** Opens a path (or full URL), expects the given status (default: below 400), gates it. */
  async visit(p, { status } = {}) {
    const response = await this.page.goto(this.url(p), { waitUntil: 'load' });
    this.expectStatus(response, status);
    await this.gate();
    return response;
  }

  /**
   * Runs an action that loads a new page (a click, Enter on a form), then gates that page.
   * `focus`: a selector that must have focus when the page opens (checked before the gate,
   * whose Tab presses move focus on).
   */
  async go(action, { status, focus } = {}) {
    const navigation = this.page.waitForNavigation({ waitUntil: 'load' });
    await action();
    const response = await navigation;
    this.expectStatus(response, status);
    if (focus) await this.expectFocus(focus);
    await this.gate();
    return response;
  }

  /** Presses a key (default Enter) on whatever has focus, expecting a new page; gates it. */
  key(key = 'Enter', opts = {}) {
    return this.go(() => this.page.keyboard.press(key), opts);
  }

  /** Clicks the link with this accessible name (within `scope`, a selector, if given). */
  follow(name, opts = {}) {
    const root = opts.scope ? this.page.locator(opts.scope) : this.page;
    return this.go(() => root.getByRole('link', { name, exact: true }).first().click(), opts);
  }

  /** Presses the button with this accessible name. */
  press(name, opts = {}) {
    return this.go(() => this.page.getByRole('button', { name, exact: true }).click(), opts);
  }

  expectStatus(response, status) {
    assert.ok(response, `No response for ${this.page.url()}`);
    if (status === undefined) assert.ok(response.status() < 400, `${response.url()} answered ${response.status()}`);
    else assert.equal(response.status(), status, `${response.url()} answered ${response.status()}, expected ${status}`);
  }

  async expectPath(p) {
    assert.equal(new URL(this.page.url()).pathname, p, `Expected to be on ${p}, but on ${this.page.url()}`);
  }

  async text(selector) {
    return (await this.page.locator(selector).allInnerTexts()).join('\n');
  }

  async expectText(selector, expected) {
    const text = await this.text(selector);
    assert.ok(text.includes(expected), `Expected ${selector} to contain "${expected}", it reads:\n${text}`);
  }

  expectNotice(expected) { return this.expectText('.notice', expected); }

  /** Follows a download started by `action`; returns its file name and text. */
  async download(action) {
    const [download] = await Promise.all([this.page.waitForEvent('download'), action()]);
    const file = await download.path();
    return { filename: download.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
  }

  /** What has keyboard focus now: { tag, id, text, visible } or null. */
  focused() { return focused(this.page); }

  /** Polls until the focused element matches `selector` (focus can move after load). */
  async expectFocus(selector, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.page.evaluate((s) => !!document.activeElement && document.activeElement.matches(s), selector)) return;
      if (Date.now() > deadline) {
        const f = await this.focused();
        assert.fail(`Expected focus on ${selector}, but it is on ${f ? `<${f.tag}${f.id ? ` id=${f.id}` : ''}> "${f.text}"` : 'nothing'}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Moves focus with the keyboard alone: presses Tab (Shift+Tab with `back: true`) until the
   * focused element matches `selector` and, if `text` is given, reads exactly that text; checks
   * it shows focus. Presses nothing if it already has focus. Fails after `max` presses.
   * `tabTo('#email')`, `tabTo('#q', 20)`, `tabTo('main a', { text: 'Groups', back: true })`.
   */
  async tabTo(selector, opts = {}) {
    const { max = 40, back = false, text } = typeof opts === 'number' ? { max: opts } : opts;
    const want = text === undefined ? selector : `${selector} reading "${text}"`;
    const here = () => this.page.evaluate(({ s, t }) => {
      const el = document.activeElement;
      if (!el || !el.matches(s)) return false;
      return t == null || (el.textContent || el.value || '').trim().replace(/\s+/g, ' ') === t;
    }, { s: selector, t: text ?? null });
    for (let i = 0; i <= max; i += 1) {
      if (await here()) {
        const f = await this.focused();
        assert.ok(f.visible, `No visible focus indicator on ${want} (${f.style})`);
        return f;
      }
      if (i < max) await this.page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    }
    assert.fail(`${want} was not reached with ${max} ${back ? 'Shift+Tab' : 'Tab'} presses on ${this.page.url()}`);
  }

  /** Tabs to the link reading `name` (inside `scope`, a selector, if given). */
  tabToLink(name, { scope, ...opts } = {}) {
    return this.tabTo(scope ? `${scope} a[href]` : 'a[href]', { ...opts, text: name });
  }

  /** Tabs to the button reading `name`. */
  tabToButton(name, opts = {}) {
    return this.tabTo('button, input[type="submit"]', { ...opts, text: name });
  }

  /** Tabs to a text field, select or textarea and types into it (a select chooses by typing). */
  async typeInto(selector, text, opts = {}) {
    await this.tabTo(selector, opts);
    await this.page.keyboard.type(text);
  }

  /**
   * Tabs to a file input and opens the file picker with `key` (Space or Enter), as a keyboard
   * user does, answering the picker with `files` (paths or { name, mimeType, buffer }).
   */
  async chooseFile(selector, files, { key = 'Space', ...opts } = {}) {
    await this.tabTo(selector, opts);
    // Headless Chromium with JavaScript off now and then ignores the first key press on a file
    // input right after a page load (seen about once in ten runs); a person would press again.
    let chooser;
    for (let attempt = 1; !chooser; attempt++) {
      [chooser] = await Promise.all([
        this.page.waitForEvent('filechooser', { timeout: 5000 }).catch((e) => {
          if (attempt >= 3) throw e;
          return undefined;
        }),
        this.page.keyboard.press(key),
      ]);
    }
    await chooser.setFiles(files);
  }

  /** The keyboard-only signUp(): join form and emailed sign-in link with Tab, typing and Enter. */
  async signUpByKeyboard({ name, email }) {
    await this.visit('/join/individual');
    await this.typeInto('#display_name', name);
    await this.typeInto('#email', email);
    await this.tabToButton('Join');
    await this.key('Enter');
    await this.expectPath('/join/check-email');
    await this.visit(await this.outbox.signInLink(email));
    await this.tabToButton('Sign in');
    await this.key('Enter');
    await this.expectNotice('You are signed in.');
  }

  /** Fills the join form, reads the emailed link from the outbox, signs in: ends on /me. */
  async signUp({ name, email }) {
    await this.visit('/join/individual');
    await this.page.fill('#display_name', name);
    await this.page.fill('#email', email);
    await this.press('Join');
    await this.expectPath('/join/check-email');
    await this.signInByLink(email);
  }

  /** Opens the newest unused sign-in link emailed to `email` and presses "Sign in". */
  async signInByLink(email) {
    const link = await this.outbox.signInLink(email);
    await this.visit(link);
    await this.press('Sign in');
    await this.expectNotice('You are signed in.');
  }
}

async function saveFailure(page, env, name, error) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const base = path.join(ARTIFACTS, `${env.fileSlug}--${env.mode.name}--${slug(name)}`);
  const saved = [];
  try {
    await page.screenshot({ path: `${base}.png`, fullPage: true });
    saved.push(`${base}.png`);
  } catch (e) { /* the page may be gone */ }
  try {
    fs.writeFileSync(`${base}.html`, `<!-- ${page.url()} -->\n${await page.content()}`);
    saved.push(`${base}.html`);
  } catch (e) { /* the page may be gone */ }
  if (env.server) {
    const { stdout, stderr } = env.server.logs();
    fs.writeFileSync(`${base}.server.log`, `${stdout}\n--- stderr ---\n${stderr}`);
    saved.push(`${base}.server.log`);
  }
  const note = `\n    failed on page: ${page.url()}\n    artifacts: ${saved.join(', ')}`;
  if (typeof error.stack === 'string') error.stack += note;
  else error.message += note;
}

/**
 * Declares the journeys of one test file, run once with JavaScript on and once with it off:
 *   journeys('Members', ({ journey }) => { journey('joins', async (j) => { await j.visit('/'); }); });
 */
function journeys(title, define, { modes = MODES } = {}) {
  const fileSlug = slug(title);
  describe(title, () => {
    let browser;
    before(async () => {
      browser = await launchBrowser();
      if (SCREENSHOTS) fs.mkdirSync(SCREENS, { recursive: true });
    }, { timeout: 90000 });
    after(async () => { if (browser) await browser.close(); });

    for (const mode of modes) {
      describe(mode.label, () => {
        const env = { mode, fileSlug, titles: new TitleRegistry(), server: null, outbox: null };
        before(async () => {
          env.server = await startServer();
          env.outbox = new Outbox(env.server.outbox, env.server.baseUrl);
        }, { timeout: 60000 });
        after(async () => { if (env.server) await env.server.stop(); });

        const journey = (name, fn, options = {}) => it(name, { timeout: 120000, ...options }, async () => {
          assert.ok(browser, 'Chromium did not start');
          const context = await browser.newContext({
            javaScriptEnabled: mode.javaScriptEnabled,
            viewport: { width: 1280, height: 720 },
            acceptDownloads: true,
            locale: 'en-GB',
          });
          context.setDefaultTimeout(15000);
          const network = new NetworkLog(context);
          const page = await context.newPage();
          const state = {
            network,
            titles: env.titles,
            javaScriptEnabled: mode.javaScriptEnabled,
            label: `${fileSlug}-${mode.name}-${slug(name).slice(0, 30)}`,
            screensDir: SCREENSHOTS ? SCREENS : null,
          };
          // The browser reports a Content-Security-Policy violation on the console, with
          // JavaScript on or off; any one fails the journey (the gate checks after every page).
          state.cspViolations = [];
          page.on('console', (m) => {
            if (m.text().includes('Content Security Policy')) state.cspViolations.push(`${page.url()}: ${m.text()}`);
          });
          const j = new Journey(page, env, state);
          try {
            // Make sure the mode is real: a page script runs exactly when JavaScript is on.
            await page.setContent('<script>document.documentElement.dataset.ran = "yes"</script>');
            const ran = await page.evaluate(() => document.documentElement.dataset.ran === 'yes');
            assert.equal(ran, mode.javaScriptEnabled, `page scripts ${ran ? 'ran' : 'did not run'} in the "${mode.label}" context`);
            await fn(j);
            assert.deepEqual(network.offenders(), [], 'Requests left this machine');
            assert.deepEqual(state.cspViolations, [], 'Content-Security-Policy violations');
            assert.ok(state.gated > 0, 'The journey visited no page through the gate');
          } catch (error) {
            await saveFailure(page, env, name, error);
            throw error;
          } finally {
            await context.close();
          }
        });
        define({ journey, mode });
      });
    }
  });
}

module.exports = { journeys, Journey, MODES, launchBrowser };
