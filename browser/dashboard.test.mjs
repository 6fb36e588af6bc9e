// The dashboard in a real browser (headless Chromium driven by playwright-core): sign in,
// connect a sandbox K-Series merchant through its consent page, see it Connected, run Test
// Connection, map its location, refuse a wrong delete confirmation inline and delete with the
// typed one. Screenshots of every page go to target/browser/.
//
//   node browser/dashboard.test.mjs            (after `cargo build -p tillbridge`)
//
// TILLBRIDGE_BIN picks the binary (default target/debug/tillbridge); CHROMIUM the browser
// (default /usr/bin/chromium).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = process.env.TILLBRIDGE_BIN ?? join(root, "target/debug/tillbridge");
const shots = join(root, "target/browser");
mkdirSync(shots, { recursive: true });
const data = mkdtempSync(join(tmpdir(), "tillbridge-browser-"));
const children = [];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function start(args, env) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  child.log = () => log;
  return child;
}

async function waitFor(url, child) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (child.exitCode !== null) throw new Error(`${bin} exited early:\n${child.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up:\n${child.log()}`);
}

async function json(method, url, body, key) {
  const r = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body && JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return JSON.parse(text);
}

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: join(shots, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

const secrets = [];
async function noSecrets(page) {
  const html = await page.content();
  for (const s of secrets) assert.ok(!html.includes(s), `${page.url()} shows a secret`);
}

async function main() {
  const sbPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sbPort}`;
  const sandbox = start(["sandbox", "--listen", `127.0.0.1:${sbPort}`]);
  await waitFor(`${sandboxUrl}/_sandbox/clients`, sandbox);
  const clients = Object.fromEntries(
    (await json("GET", `${sandboxUrl}/_sandbox/clients`)).clients.map((c) => [c.series, c]),
  );

  const hubPort = await freePort();
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const env = {
    TILLBRIDGE_DATABASE_URL: `sqlite://${join(data, "tillbridge.db")}`,
    TILLBRIDGE_LISTEN: `127.0.0.1:${hubPort}`,
    TILLBRIDGE_PUBLIC_URL: hubUrl,
    TILLBRIDGE_MASTER_KEY: Buffer.alloc(32, 7).toString("base64"),
    TILLBRIDGE_KSERIES_BASE_URL: `${sandboxUrl}/kseries`,
    TILLBRIDGE_KSERIES_CLIENT_ID: clients.k.client_id,
    TILLBRIDGE_KSERIES_CLIENT_SECRET: clients.k.client_secret,
    TILLBRIDGE_BACKFILL_DAYS: "3",
    TILLBRIDGE_LOG: "warn",
  };
  secrets.push(clients.k.client_secret, env.TILLBRIDGE_MASTER_KEY);
  const hub = start(["serve"], env);
  await waitFor(`${hubUrl}/readyz`, hub);
  const password = "browser test password 1";
  secrets.push(password);
  execFileSync(bin, ["users", "add", "--email", "admin@example.com", "--password-stdin"], {
    env: { ...process.env, ...env },
    input: `${password}\n`,
  });
  const key = execFileSync(bin, ["api-keys", "create", "--name", "browser test"], {
    env: { ...process.env, ...env },
  })
    .toString()
    .trim();
  secrets.push(key);
  const merchant = await json("POST", `${hubUrl}/api/v1/merchants`, { name: "Browser Café", timezone: "Europe/Copenhagen", currency: "DKK" }, key);
  await json("POST", `${hubUrl}/api/v1/merchants/${merchant.id}/locations`, { name: "Main Street", timezone: "Europe/Copenhagen" }, key);
  const pos = await json("POST", `${sandboxUrl}/_sandbox/merchants`, {
    series: "k", name: "Sandbox Café", preset: "cafe", locations: 1, registers_per_location: 1, customers: 20, history_days: 3, sales_per_day: 10,
  });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

    // Sign in: a wrong password is refused on the form, then the right one gets in.
    await page.goto(hubUrl);
    assert.match(page.url(), /\/login$/);
    await shot(page, "sign-in");
    await page.fill("#email", "admin@example.com");
    await page.fill("#password", "not the password");
    await page.click("#sign-in");
    assert.equal(await page.textContent("#problem"), "The e-mail or the password is wrong.");
    assert.equal(await page.inputValue("#email"), "admin@example.com");
    await shot(page, "sign-in-refused");
    await page.fill("#password", password);
    await page.click("#sign-in");
    await page.waitForSelector(`[data-merchant="${merchant.id}"]`);
    await shot(page, "merchants");
    await page.click(`[data-merchant="${merchant.id}"]`);

    // Settings › Sales Channels: onboarding, then Add Channel → K-Series → consent → back.
    await page.waitForSelector("#onboarding");
    await shot(page, "sales-channels-empty");
    await page.click("#add-channel");
    await page.waitForSelector('button[data-series="k"]');
    assert.ok(await page.isDisabled("text=Coming later >> nth=0"));
    await shot(page, "add-channel");
    await page.click('button[data-series="k"]');
    await page.waitForSelector('input[name="username"]');
    assert.ok(page.url().startsWith(sandboxUrl), page.url());
    await shot(page, "consent");
    await page.fill('input[name="username"]', pos.login.username);
    await page.fill('input[name="password"]', pos.login.password);
    await page.click("#authorize");
    await page.waitForSelector("#continue");
    assert.equal(await page.textContent("#title"), "Connected");
    await shot(page, "callback");
    await page.click("#continue");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /^Connected\./);
    assert.equal(await page.getAttribute("[data-status]", "data-status"), "connected");
    await shot(page, "connection-status");
    await noSecrets(page);

    // Test Connection records its result.
    await page.click("#test-connection");
    await page.waitForSelector("#notice");
    assert.equal(await page.textContent("#notice"), "Connection test succeeded.");
    assert.notEqual(await page.textContent("#last-checked"), "never");
    await shot(page, "connection-tested");

    // Settings: map the POS location; sync progress appears on the Status tab.
    await page.click("#tab-settings");
    await page.waitForSelector("#mapping");
    await page.selectOption("#mapping select", { label: "Main Street" });
    await page.click("#mapping button");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /Location mapped/);
    await shot(page, "connection-settings");
    await page.click("#tab-status");
    await page.waitForSelector("#streams");
    await shot(page, "sync-progress");
    await page.click("#tab-log");
    await page.waitForSelector("#log");
    assert.match(await page.textContent("#log"), /connection test succeeded/);
    await shot(page, "integration-log");
    await noSecrets(page);

    // Delete: a wrong confirmation is refused inline; the typed word deletes.
    await page.click("#tab-settings");
    await page.fill("#confirm", "lightspeed");
    await page.click("#delete-connection");
    await page.waitForSelector("#confirm-error");
    assert.match(await page.textContent("#confirm-error"), /type the word Lightspeed exactly/);
    await shot(page, "delete-refused");
    await page.fill("#confirm", "Lightspeed");
    await page.click("#delete-connection");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /^Connection deleted\./);
    assert.equal(await page.getAttribute("[data-status]", "data-status"), "disabled");
    await shot(page, "connection-deleted");
    await noSecrets(page);

    // Sign out.
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in");
    const back = await page.goto(`${hubUrl}/merchants/${merchant.id}/channels`);
    assert.match(page.url(), /\/login$/, `${back.status()}`);
    console.log(`dashboard browser suite passed; ${step} screenshots in ${shots}`);
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  for (const c of children) process.stderr.write(`--- ${c.spawnargs.slice(1).join(" ")}\n${c.log()}\n`);
  throw e;
} finally {
  for (const c of children) c.kill("SIGTERM");
  rmSync(data, { recursive: true, force: true });
}
