'use strict';
// Reads the .eml files the server writes to its outbox when no smtp_url is set.
const fs = require('node:fs');
const path = require('node:path');

/** Undo quoted-printable: soft line breaks (=\r\n) and =XX escapes, then read as UTF-8. */
function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Headers (lower-cased names, unfolded) and the decoded text of a single-part message. */
function parseEml(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  let body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const cte = (headers['content-transfer-encoding'] || '').toLowerCase();
  if (cte === 'quoted-printable') body = decodeQuotedPrintable(body);
  else if (cte === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return { headers, body };
}

class Outbox {
  constructor(dir, baseUrl) {
    this.dir = dir;
    this.baseUrl = baseUrl;
    this.used = new Set();
  }

  files() {
    if (!fs.existsSync(this.dir)) return [];
    return fs.readdirSync(this.dir).filter((f) => f.endsWith('.eml')).sort();
  }

  /** Messages (not yet taken) addressed to `to`. */
  messagesTo(to) {
    const out = [];
    for (const f of this.files()) {
      const raw = fs.readFileSync(path.join(this.dir, f), 'utf8');
      const msg = parseEml(raw);
      if ((msg.headers.to || '').toLowerCase().includes(to.toLowerCase())) out.push({ file: f, ...msg });
    }
    return out;
  }

  /** Waits for a new message to `to` and returns the sign-in link in its text. */
  async signInLink(to, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    const escaped = this.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`${escaped}/sign-in/link/[A-Za-z0-9_-]+(?:\\?[^\\s]*)?`);
    for (;;) {
      for (const msg of this.messagesTo(to)) {
        if (this.used.has(msg.file)) continue;
        const m = msg.body.match(re);
        if (m) {
          this.used.add(msg.file);
          return m[0];
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`No sign-in email to ${to} arrived in ${this.dir} within ${timeoutMs} ms (files: ${this.files().join(', ') || 'none'})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for a message to `to` that `matches` (given { headers, body }) and returns it. */
  async waitFor(to, matches, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messagesTo(to).find(matches);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`No matching email to ${to} arrived in ${this.dir} within ${timeoutMs} ms (files: ${this.files().join(', ') || 'none'})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

module.exports = { Outbox, parseEml, decodeQuotedPrintable };
