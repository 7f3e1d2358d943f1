'use strict';
// Starts a fresh Constellate server for one group of tests: its own temp data folder, a free
// port on 127.0.0.1, no smtp_url (so mail lands as .eml files in <data>/outbox/), and the
// one-time first-admin setup link it prints on stdout.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const BINARY = process.env.CONSTELLATE_BIN || path.join(ROOT, 'target', 'debug', 'constellate');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startServer() {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`Constellate binary not found at ${BINARY}: run \`cargo build --locked\` (scripts/browser-test does).`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'constellate-browser-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(
    BINARY,
    ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir, '--base-url', baseUrl, '--job-poll-ms', '50'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv() },
  );
  // Never leave a server behind, even if the test process is ended early.
  const reap = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', reap);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

  const deadline = Date.now() + 20000;
  let setupUrl = null;
  for (;;) {
    const state = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 50))]);
    if (state) {
      throw new Error(`constellate serve exited (${JSON.stringify(state)}) before it was ready.\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    const m = stdout.match(/(\/setup\/[A-Za-z0-9_-]+)/);
    if (m) setupUrl = baseUrl + m[1];
    if (setupUrl && (await healthy(baseUrl))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`constellate serve did not become ready on ${baseUrl} within 20 s (setup link seen: ${!!setupUrl}).\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
  }

  return {
    baseUrl,
    port,
    dataDir,
    setupUrl,
    outbox: path.join(dataDir, 'outbox'),
    logs: () => ({ stdout, stderr }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', reap);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The caller's environment without Constellate settings or DATABASE_URL: only the flags count. */
function serverEnv() {
  const env = { NO_COLOR: '1' };
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CONSTELLATE_') && k !== 'DATABASE_URL') env[k] = v;
  }
  return env;
}

async function healthy(baseUrl) {
  try {
    const res = await fetch(`${baseUrl}/healthz`);
    return res.ok;
  } catch {
    return false;
  }
}

module.exports = { startServer, ROOT };
