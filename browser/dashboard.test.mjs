// The dashboard in a real browser (headless Chromium driven by playwright-core): sign in, go
// through Get started, connect a sandbox K-Series merchant through its consent page, see it
// Connected, run Test Connection, map its location, set the earning rule and tiers and create a
// Hot Drinks punch card (bad input refused inline), open a member who has stamps, see the
// Insights charts, map a department, run Import POS and open the week grid, open Orders, refuse
// a wrong delete confirmation inline and delete with the typed one. Screenshots of every page
// go to target/browser/.
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
rmSync(shots, { recursive: true, force: true });
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
  // A member of the café; the loyalty program and its Hot Drinks card are set up in the
  // dashboard below, and then she buys three hot drinks (and a pastry, which never stamps).
  const api = `${hubUrl}/api/v1/merchants/${merchant.id}`;
  const member = await json("POST", `${api}/members`, { email: "mia@example.com", name: "Mia Jensen" }, key);
  const sku = (category) => pos.menu.find((i) => i.category === category).sku;

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
    // Get started: Save & Continue needs a connection; the step's link leads to Add Channel.
    await page.click("#start-setup");
    await page.waitForSelector("#onboarding-step");
    await page.click("#continue");
    await page.waitForSelector("#onboarding-error");
    assert.match(await page.textContent("#onboarding-error"), /No sales channel is connected yet/);
    await shot(page, "onboarding-refused");
    await page.click("#step-action");
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

    // Back to Get started: the connection lets step one continue; the others are skipped.
    await page.goto(`${hubUrl}/merchants/${merchant.id}/onboarding`);
    await page.waitForSelector("#continue");
    assert.match(await page.textContent("#step-progress"), /^Connected: Lightspeed K-Series/);
    await page.click("#continue");
    await page.waitForSelector("text=Decide how members earn credit");
    await shot(page, "onboarding-next");
    await page.click("#skip");
    await page.waitForSelector("text=Say which POS location fills");
    await page.click("#skip");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /^Setup finished\./);
    await page.click(`[data-connection] a`);
    await page.waitForSelector("#tab-settings");

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

    // Loyalty program: the earning rule, then a Hot Drinks punch card from the category picker
    // (the categories appear once the catalog has synced); bad input is refused inline.
    await page.click("text=Loyalty program");
    await page.waitForSelector("#earning");
    await page.selectOption("#mode", "step");
    await page.fill("#step", "ten");
    await page.fill("#reward", "1.00");
    await page.click("#save-earning");
    await page.waitForSelector("#step-error");
    assert.match(await page.textContent("#step-error"), /`ten` is not an amount/);
    await shot(page, "earning-refused");
    await page.fill("#step", "10.00");
    await page.click("#save-earning");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /^Earning rule saved\./);
    await page.fill("#tier_name_0", "Gold");
    await page.fill("#tier_threshold_0", "100.00");
    await page.click("#save-tiers");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /^Tiers saved\./);
    assert.equal(await page.inputValue("#tier_name_0"), "Gold");
    await page.click("#new-card");
    await page.waitForSelector("#card");
    for (let i = 0; !(await page.$('#categories label:has-text("Hot Drinks") input')); i++) {
      assert.ok(i < 120, "the synced categories did not appear within a minute");
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
    await page.check('#categories label:has-text("Hot Drinks") input');
    await page.fill("#reward", "a free hot drink");
    await page.click("#save-card");
    await page.waitForSelector("#name-error");
    assert.ok(await page.isChecked('#categories label:has-text("Hot Drinks") input'), "the pick survives the refusal");
    await shot(page, "punch-card-refused");
    await page.fill("#name", "Hot Drinks");
    await page.click("#save-card");
    await page.waitForSelector("#notice");
    assert.match(await page.textContent("#notice"), /^Punch card created\./);
    assert.match(await page.textContent("#cards"), /Hot Drinks/);
    await shot(page, "loyalty-program");
    await noSecrets(page);
    await json("POST", `${sandboxUrl}/_sandbox/merchants/${pos.id}/sales`, {
      customer_email: "Mia@Example.com", lines: [{ sku: sku("Hot Drinks"), quantity: 3 }, { sku: sku("Pastry"), quantity: 1 }],
    });

    // Members: the list, and the member's stamps once her sale has arrived.
    await page.click("text=Members");
    await page.waitForSelector(`[data-member="${member.id}"]`);
    await shot(page, "members");
    await page.fill("#search", "mia");
    await page.click("#member-search button");
    await page.click(`[data-member="${member.id}"] a`);
    await page.waitForSelector("#member-email");
    // The profile reads its sections one after another, so a load while the sale is being
    // written may show the stamps but not yet the order: wait for both.
    for (let i = 0; !((await page.$("#punch-cards")) && (await page.$("#orders"))); i++) {
      assert.ok(i < 120, "the member's stamps and order did not appear within a minute");
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
    assert.match(await page.textContent("#punch-cards"), /3 of 10 stamps/);
    assert.match(await page.textContent("#orders"), /Lightspeed K-Series/);
    await shot(page, "member-profile");
    await noSecrets(page);

    // Insights: the figures and six charts, per week after choosing it.
    await page.click("text=Insights");
    await page.waitForSelector("#chart-repeat-rate svg");
    await page.selectOption("#period", "week");
    await page.click("#show");
    await page.waitForSelector("#chart-credit svg");
    assert.equal(await page.locator("figure.chart svg").count(), 6);
    for (const svg of await page.locator("figure.chart svg").all()) {
      const box = await svg.boundingBox();
      assert.ok(box && box.width > 200 && box.height > 80, "a chart is drawn at a readable size");
    }
    assert.match(await page.textContent('[data-figure="repeat_purchase_rate"]'), /Repeat Purchase Rate/);
    await shot(page, "insights");
    await noSecrets(page);

    // Weekly balance: the channel feeds it, a department maps its fields, Tools › Import POS
    // fills the last week, and the week grid shows it.
    await page.click("text=Weekly balance");
    await page.waitForSelector("#labor-settings");
    await page.selectOption("#connection_id", { index: 1 });
    await page.check("#enabled");
    await page.click("#save-labor-settings");
    await page.waitForSelector("#notice");
    assert.equal(await page.textContent("#notice"), "Settings saved.");
    await page.click("#new-department");
    await page.waitForSelector("#department");
    await page.fill("#name", "Bar");
    await page.selectOption("#client_number", { index: 1 });
    await page.check('[data-field-type="net_sales"] input[name="use_net_sales"]');
    await page.check('[data-field-type="net_sales"] input[name="hourly_net_sales"]');
    await page.click("#save-department");
    await page.waitForSelector("#number_net_sales-error");
    await shot(page, "department-refused");
    await page.fill("#number_net_sales", "100");
    await page.check('[data-field-type="transactions"] input[name="use_transactions"]');
    await page.fill("#number_transactions", "200");
    await page.click("#save-department");
    await page.waitForSelector("#notice");
    assert.equal(await page.textContent("#notice"), "Department saved.");
    await page.click("#tab-import");
    await page.waitForSelector("#import");
    await page.check('#import-departments input[type="checkbox"]');
    await page.check("#overwrite_approved");
    await page.click("#run-import");
    await page.waitForSelector("#notice");
    for (let i = 0; !(await page.$('[data-import][data-state="succeeded"]')); i++) {
      assert.ok(i < 120, "the import did not finish within a minute");
      assert.equal(await page.$('[data-import][data-state="failed"]'), null, "the import failed");
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
    await shot(page, "import-pos");
    await page.click("#tab-balance");
    await page.click("#departments a >> nth=0");
    await page.waitForSelector("#week-grid");
    // Yesterday (in Copenhagen) had sales: its week, and its hourly detail.
    const yesterday = new Date(Date.now() - 86_400_000).toLocaleDateString("sv-SE", { timeZone: "Europe/Copenhagen" });
    await page.goto(`${page.url().split("?")[0]}?week=${yesterday}&day=${yesterday}`);
    await page.waitForSelector("#hourly-title");
    assert.ok((await page.locator('#import-row td[data-status="ok"]').count()) > 0, "imported days in the grid");
    const hours = await page.locator("#hourly td:nth-child(2)").allTextContents();
    assert.ok(hours.some((h) => h.trim() !== ""), "yesterday's sales by the hour");
    await shot(page, "week-grid");
    await noSecrets(page);

    // Orders: read-only, nothing needs manual handling.
    await page.click("nav >> text=Orders");
    await page.waitForSelector("#no-manual");
    await shot(page, "orders");

    // Catalog and financials: read-only views of what the sync read.
    await page.click("nav >> text=Catalog");
    for (let i = 0; !(await page.$("[data-sku]")); i++) {
      assert.ok(i < 60, "the catalog is read");
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
    await shot(page, "catalog");
    await page.click("nav >> text=Financials");
    await page.waitForSelector("table.days");
    assert.ok((await page.locator("table.days tr[data-date]").count()) >= 8, "a week of days and the range's total");
    await shot(page, "financials");
    await noSecrets(page);
    await page.goto(`${hubUrl}/merchants/${merchant.id}/channels`);
    await page.click(`[data-connection] a`);
    await page.waitForSelector("#tab-settings");

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
