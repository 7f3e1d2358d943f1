'use strict';
// The accessibility gate, run on every page a journey visits. It fails the test (throws) on:
//  - any axe-core violation of impact serious or critical (WCAG 2.0/2.1 A and AA, WCAG 2.2 AA);
//  - not exactly one non-empty h1;
//  - a missing, non-descriptive or reused <title> (one title for two different pages);
//  - any request to a host other than 127.0.0.1 or localhost (recorded by the context);
//  - any Content-Security-Policy violation the browser reported (collected by the harness);
//  - an inline form error no field refers to, or an error summary that does not take focus;
//  - content wider than the viewport at 320 CSS px (WCAG 1.4.10 reflow);
//  - text cut off, or new horizontal scrolling, once the WCAG 1.4.12 text-spacing override is on;
//  - an element reached by Tab with no visible focus indicator (outline or box-shadow), whose
//    text falls below 4.5:1 (3:1 large) or whose indicator falls below 3:1 while focused, and,
//    on a page where nothing has focus yet, a first Tab that does not reach the skip link.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const BLOCKING_IMPACTS = new Set(['serious', 'critical']);
const ALLOWED_HOSTS = new Set(['127.0.0.1', 'localhost']);
const NETWORK_SUFFIX = / – Constellate$/;

/** Tokens and ids in a path make one page template: /sign-in/link/AbC… and /groups/12 → /:x. */
function pageKey(url) {
  const u = new URL(url);
  return u.pathname.split('/').map((s) => (/^\d+$/.test(s) || s.length >= 20 ? ':x' : s)).join('/');
}

/** Records every request a browser context makes; `offenders()` lists those leaving this machine. */
class NetworkLog {
  constructor(context) {
    this.urls = [];
    context.on('request', (req) => this.urls.push(req.url()));
  }
  offenders() {
    return this.urls.filter((u) => {
      let parsed;
      try { parsed = new URL(u); } catch { return true; }
      if (['data:', 'blob:', 'about:'].includes(parsed.protocol)) return false;
      return !ALLOWED_HOSTS.has(parsed.hostname);
    });
  }
}

/** Titles seen in one run of a journey mode: a title must always mean the same page. */
class TitleRegistry {
  constructor() { this.byTitle = new Map(); }
  check(title, url) {
    const key = pageKey(url);
    const seen = this.byTitle.get(title);
    assert.ok(!seen || seen === key, `The title "${title}" is used for two different pages: ${seen} and ${key}`);
    this.byTitle.set(title, key);
  }
}

async function injectAxe(page, javaScriptEnabled) {
  if (await page.evaluate(() => typeof window.axe === 'object')) return;
  // Loaded by evaluating its source, never as a <script> tag: the page's Content-Security-Policy
  // (rightly) refuses inline scripts, and code the test evaluates is not the page's.
  if (javaScriptEnabled) {
    await page.evaluate(AXE_SOURCE);
  } else {
    // With JavaScript disabled a <script> tag does not run and page timers never fire, but
    // code evaluated by the test does: load axe that way, and let its setTimeout and
    // requestAnimationFrame calls run as microtasks. No script of the page itself ever runs.
    await page.evaluate(() => {
      let id = 0;
      window.setTimeout = (fn, _ms, ...args) => { id += 1; Promise.resolve().then(() => fn(...args)); return id; };
      window.clearTimeout = () => {};
      window.requestAnimationFrame = (fn) => { id += 1; Promise.resolve().then(() => fn(performance.now())); return id; };
      window.cancelAnimationFrame = () => {};
    });
    await page.evaluate(AXE_SOURCE);
  }
  assert.equal(await page.evaluate(() => typeof window.axe), 'object', 'axe-core could not be loaded into the page');
}

async function checkAxe(page, javaScriptEnabled) {
  await injectAxe(page, javaScriptEnabled);
  const violations = await page.evaluate(
    (tags) => window.axe
      .run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
      .then((r) => r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => `${n.target.join(' ')}  ${n.html.slice(0, 160)}`),
      }))),
    AXE_TAGS,
  );
  const blocking = violations.filter((v) => BLOCKING_IMPACTS.has(v.impact));
  assert.deepEqual(
    blocking.map((v) => `${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`),
    [],
    `axe-core found serious or critical accessibility violations on ${page.url()}`,
  );
  return violations;
}

async function checkStructure(page, titles) {
  const title = await page.title();
  assert.match(title, NETWORK_SUFFIX, `The <title> "${title}" should end with the network name`);
  const own = title.replace(NETWORK_SUFFIX, '').trim();
  assert.ok(own.length >= 4 && !/^(untitled|page|constellate)$/i.test(own), `The <title> "${title}" does not describe the page`);
  // An error page's title names the error, not the address (every missing page is "Page not found").
  if ((await page.locator('[data-error-page]').count()) === 0) titles.check(title, page.url());
  const h1s = await page.evaluate(() => [...document.querySelectorAll('h1')].map((h) => h.textContent.trim()));
  assert.equal(h1s.length, 1, `Expected exactly one h1 on ${page.url()}, found ${h1s.length}: ${JSON.stringify(h1s)}`);
  assert.ok(h1s[0].length > 0, `The h1 on ${page.url()} is empty`);
  return { title, h1: h1s[0] };
}

/**
 * Form errors, GOV.UK style: each inline error has an id that a control (or its fieldset)
 * names in aria-describedby; each aria-invalid control points at its error; each link in the
 * error summary leads to something on the page; and the summary has focus when the page opens.
 */
async function checkFormErrors(page) {
  const problems = await page.evaluate(() => {
    const out = [];
    const describedBy = (el) => (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    const referenced = new Set([...document.querySelectorAll('[aria-describedby]')].flatMap(describedBy));
    for (const msg of document.querySelectorAll('.error-message')) {
      const text = msg.textContent.trim().replace(/\s+/g, ' ');
      if (!msg.id) out.push(`inline error "${text}" has no id, so no field can refer to it`);
      else if (!referenced.has(msg.id)) out.push(`inline error "${text}" (#${msg.id}) is not in any field's aria-describedby`);
    }
    for (const el of document.querySelectorAll('[aria-invalid="true"]')) {
      const ids = describedBy(el);
      if (!ids.some((id) => document.getElementById(id)?.classList.contains('error-message'))) {
        out.push(`#${el.id} is marked invalid but its aria-describedby (${ids.join(' ') || 'none'}) names no inline error`);
      }
    }
    for (const a of document.querySelectorAll('.error-summary a[href^="#"]')) {
      const target = document.getElementById(a.getAttribute('href').slice(1));
      if (!target) out.push(`error summary link ${a.getAttribute('href')} leads nowhere`);
      else if (target.matches('input, select, textarea') && target.getAttribute('aria-invalid') !== 'true') {
        out.push(`error summary link ${a.getAttribute('href')} leads to a field not marked aria-invalid, with no inline error`);
      } else if (target.matches('fieldset') && !target.querySelector('.error-message')) {
        out.push(`error summary link ${a.getAttribute('href')} leads to a group of fields with no inline error`);
      }
    }
    return out;
  });
  assert.deepEqual(problems, [], `Form errors are not tied to their fields on ${page.url()}`);
  if (await page.locator('.error-summary').count()) {
    const deadline = Date.now() + 3000;
    while (!(await page.evaluate(() => !!document.activeElement?.matches('.error-summary')))) {
      assert.ok(Date.now() < deadline, `The error summary on ${page.url()} did not receive focus when the page opened`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function checkReflow(page) {
  const original = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 720 });
  try {
    const r = await page.evaluate(() => {
      const root = document.documentElement;
      const wide = [];
      if (root.scrollWidth > root.clientWidth + 1) {
        for (const el of document.body.querySelectorAll('*')) {
          const box = el.getBoundingClientRect();
          if (box.right > root.clientWidth + 1 && getComputedStyle(el).position !== 'absolute') {
            wide.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (right edge ${Math.round(box.right)})`);
          }
        }
      }
      return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide: wide.slice(0, 8) };
    });
    assert.ok(
      r.scrollWidth <= r.clientWidth + 1,
      `Content does not reflow at 320 CSS px on ${page.url()}: scrollWidth ${r.scrollWidth} > clientWidth ${r.clientWidth}. Too wide: ${r.wide.join(', ')}`,
    );
  } finally {
    await page.setViewportSize(original);
  }
}

// WCAG 1.4.12: line height 1.5, paragraph spacing 2em, letter spacing 0.12em, word spacing 0.16em.
const TEXT_SPACING_CSS = '* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }'
  + ' p { margin-bottom: 2em !important; }';
const TEXT_SPACING_ID = 'gate-wcag-text-spacing';

/** How far the page scrolls sideways at the current viewport (0 when it does not). */
function horizontalOverflow(page) {
  return page.evaluate(() => Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth));
}

/**
 * WCAG 1.4.12 text spacing: with the override stylesheet on, no element that clips its overflow
 * (overflow hidden or clip) may hold text that no longer fits, and the page must not scroll
 * sideways further than it did without it. The stylesheet is added and removed by code the test
 * evaluates, so this works the same with JavaScript off. Elements hidden on purpose (the
 * .visually-hidden class, the skip link while it is off screen) are skipped.
 */
async function checkTextSpacing(page) {
  const before = await horizontalOverflow(page);
  // A constructed stylesheet, adopted by the document: the page's Content-Security-Policy would
  // (rightly) refuse a <style> element, and the test must not cause a violation it then reports.
  await page.evaluate(({ css, id }) => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    window[id] = sheet;
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  }, { css: TEXT_SPACING_CSS, id: TEXT_SPACING_ID });
  let r;
  try {
    r = await page.evaluate(() => {
      const CLIPS = new Set(['hidden', 'clip']);
      const describe = (el) => {
        const cls = typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
        return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${cls}`;
      };
      const hiddenOnPurpose = (el) => {
        if (el.closest('.visually-hidden')) return true;
        const skip = el.closest('.skip-link');
        if (skip) {
          const b = skip.getBoundingClientRect();
          if (b.right <= 0 || b.bottom <= 0 || b.left >= innerWidth) return true;
        }
        return false;
      };
      const clipped = [];
      for (const el of document.body.querySelectorAll('*')) {
        const cs = getComputedStyle(el);
        const clipsX = CLIPS.has(cs.overflowX);
        const clipsY = CLIPS.has(cs.overflowY);
        if (!clipsX && !clipsY) continue;
        const text = (el.textContent || '').trim().replace(/\s+/g, ' ');
        if (!text || hiddenOnPurpose(el)) continue;
        const overX = clipsX ? el.scrollWidth - el.clientWidth : 0;
        const overY = clipsY ? el.scrollHeight - el.clientHeight : 0;
        if (overX > 1 || overY > 1) {
          clipped.push(`${describe(el)} (overflow ${cs.overflowX}/${cs.overflowY}; content ${el.scrollWidth}×${el.scrollHeight} in a ${el.clientWidth}×${el.clientHeight} box) "${text.slice(0, 60)}"`);
        }
      }
      const root = document.documentElement;
      return { clipped: clipped.slice(0, 8), scroll: Math.max(0, root.scrollWidth - root.clientWidth) };
    });
  } finally {
    await page.evaluate((id) => {
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== window[id]);
      delete window[id];
    }, TEXT_SPACING_ID);
  }
  assert.deepEqual(r.clipped, [], `Text is cut off with WCAG 1.4.12 text spacing on ${page.url()}`);
  assert.ok(
    r.scroll <= before + 1,
    `With WCAG 1.4.12 text spacing, ${page.url()} scrolls sideways by ${r.scroll}px at ${page.viewportSize().width} CSS px wide (${before}px without it)`,
  );
}

/** What has focus, and whether it shows: a non-none outline or box-shadow. */
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const cs = getComputedStyle(el);
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id,
      text: (el.textContent || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 60),
      visible: outline || (cs.boxShadow && cs.boxShadow !== 'none'),
      onScreen: (() => { const b = el.getBoundingClientRect(); return b.width > 1 && b.height > 1 && b.left >= 0 && b.top >= 0 && b.right <= innerWidth; })(),
      style: `outline: ${cs.outlineStyle} ${cs.outlineWidth}; box-shadow: ${cs.boxShadow}`,
      contrast: (() => {
        // WCAG contrast of two colours given as computed rgb()/rgba() strings.
        const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
        const lum = ([r, g, b]) => {
          const f = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
          return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((m, n) => n - m); return (x + 0.05) / (y + 0.05); };
        // The colour behind an element: its own, or the nearest ancestor's that is not transparent.
        const behind = (node) => {
          for (let n = node; n; n = n.parentElement) {
            const c = getComputedStyle(n).backgroundColor;
            const parts = rgb(c);
            if (parts.length === 3 || (parts.length === 4 && parts[3] > 0)) return c;
          }
          return 'rgb(255, 255, 255)';
        };
        const size = parseFloat(cs.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
        // Text: what it reads (a radio or checkbox has none of its own).
        const hasText = el.tagName === 'INPUT' ? ['text', 'email', 'search', 'number', 'url', 'tel', 'password'].includes(el.type)
          : (el.textContent || '').trim() !== '';
        const text = hasText ? ratio(cs.color, behind(el)) : null;
        // The indicator: the outline and every box-shadow colour; the best of them against what
        // is around the element must reach 3:1 (a yellow ring needs its dark edge on a light page).
        const around = behind(el.parentElement || el);
        const colours = [];
        if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) colours.push(cs.outlineColor);
        colours.push(...(cs.boxShadow.match(/rgba?\([^)]*\)/g) || []));
        if (behind(el) !== around) colours.push(behind(el));
        const indicator = colours.length ? Math.max(...colours.map((c) => ratio(c, around))) : 0;
        return { text, textNeeded: large ? 3 : 4.5, indicator };
      })(),
    };
  });
}

async function checkFocusVisible(page) {
  const startedOnBody = (await focused(page)) === null;
  for (let i = 1; i <= 25; i += 1) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    assert.ok(f, `Tab ${i} on ${page.url()} focused nothing`);
    if (i === 1 && startedOnBody) {
      assert.equal(f.text, 'Skip to main content', `The first Tab on ${page.url()} should reach the skip link, reached <${f.tag}> "${f.text}"`);
      assert.ok(f.onScreen, `The focused skip link on ${page.url()} is not on screen`);
    }
    assert.ok(f.visible, `No visible focus indicator on <${f.tag}${f.id ? ` id=${f.id}` : ''}> "${f.text}" on ${page.url()} (${f.style})`);
    // axe does not look at focus: the focused element's text must stay readable (4.5:1, or 3:1
    // for large text) and its indicator must stand out from what surrounds it (3:1).
    const where = `<${f.tag}${f.id ? ` id=${f.id}` : ''}> "${f.text}" on ${page.url()}`;
    if (f.contrast.text !== null) {
      assert.ok(f.contrast.text >= f.contrast.textNeeded, `Focused ${where}: text contrast ${f.contrast.text.toFixed(2)}:1, needs ${f.contrast.textNeeded}:1`);
    }
    assert.ok(f.contrast.indicator >= 3, `Focused ${where}: the focus indicator's contrast is ${f.contrast.indicator.toFixed(2)}:1, needs 3:1 (${f.style})`);
    if (f.tag === 'a') return f;
  }
  throw new Error(`No link reached in 25 Tab presses on ${page.url()}`);
}

/**
 * Runs every check on the page as it is now. `state` holds the context's NetworkLog, the
 * mode's TitleRegistry, whether JavaScript is on, and where to write screenshots.
 */
async function runGate(page, state) {
  const offenders = state.network.offenders();
  assert.deepEqual(offenders, [], 'Requests left this machine (only 127.0.0.1 and localhost are allowed)');
  assert.deepEqual(state.cspViolations || [], [], `Content-Security-Policy violations on ${page.url()}`);
  if (state.screensDir) {
    state.shot = (state.shot || 0) + 1;
    const name = `${state.label}-${String(state.shot).padStart(2, '0')}-${pageKey(page.url()).replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home'}.png`;
    await page.screenshot({ path: path.join(state.screensDir, name), fullPage: true });
  }
  const info = await checkStructure(page, state.titles);
  await checkFormErrors(page);
  await checkAxe(page, state.javaScriptEnabled);
  await checkReflow(page);
  await checkTextSpacing(page);
  await checkFocusVisible(page);
  state.gated = (state.gated || 0) + 1;
  return info;
}

module.exports = { runGate, checkTextSpacing, NetworkLog, TitleRegistry, focused, pageKey, AXE_TAGS, TEXT_SPACING_CSS };
