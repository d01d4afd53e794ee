// The offline browser harness both page tests use (graphiql.mjs, apidocs.mjs): Debian's
// Chromium via puppeteer-core, with every request to a host other than the server under
// test blocked and recorded (WebSockets too, through the DevTools protocol), and the
// page's errors, failed responses and CSP violations collected.
//
//   await offline("GraphiQL", async ({ page, base, BASE, fail, foreign }) => { … });
//
// runs the body, then fails on any foreign request or reported problem and prints
// "<name> browser test passed".
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:18400";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT = 30_000;

export function fail(message) {
  throw new Error(message);
}

export async function offline(name, body) {
  const base = new URL(BASE);
  const foreign = []; // requests to another host: each one fails the test
  const problems = []; // page errors and CSP violations
  const profile = mkdtempSync(join(tmpdir(), "dc-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Belt and braces: even a request the interception below would not see cannot
      // resolve any name but the server's.
      `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${base.hostname}`,
    ],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.setRequestInterception(true);
    page.on("request", (req) => {
      const url = new URL(req.url());
      if (url.protocol === "data:" || url.protocol === "blob:" || url.host === base.host) {
        req.continue();
      } else {
        foreign.push(req.url());
        req.abort("blockedbyclient");
      }
    });
    // WebSockets bypass request interception: watch them through the protocol.
    const cdp = await page.createCDPSession();
    await cdp.send("Network.enable");
    cdp.on("Network.webSocketCreated", ({ url }) => {
      if (new URL(url).host !== base.host) foreign.push(url);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    await page.evaluateOnNewDocument(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });

    await body({ page, base, BASE, fail, foreign });

    if (foreign.length) fail(`requests to other hosts: ${foreign.join(", ")}`);
    if (problems.length) fail(`the page reported problems:\n${problems.join("\n")}`);
    console.log(`${name} browser test passed (no request left the server's host)`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
