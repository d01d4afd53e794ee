// The REST shim's Swagger UI page in a real browser (Debian's Chromium via
// puppeteer-core), offline, as graphiql.mjs does for GraphiQL: every request to a host
// other than the server under test is blocked and fails the test. Opens /api/docs/,
// sees every path of /api/openapi.json rendered as an operation, then logs in with
// "Try it out" on POST /api/auth/login/ and sees the token in the response.
// Usage: BASE_URL=http://127.0.0.1:PORT node apidocs.mjs
import { offline } from "./offline.mjs";

await offline("API docs", async ({ page, BASE, fail, foreign }) => {
  // Without the slash: the server sends the browser to /api/docs/.
  const res = await page.goto(`${BASE}/api/docs`, { waitUntil: "networkidle0" });
  if (res.status() !== 200) fail(`GET /api/docs answered ${res.status()}`);
  if (new URL(page.url()).pathname !== "/api/docs/") fail(`landed on ${page.url()}`);
  if (foreign.length) fail(`requests to other hosts: ${foreign.join(", ")}`);
  if (!res.headers()["content-security-policy"]) fail("the page has no CSP");
  await page.waitForSelector(".swagger-ui .opblock");
  const title = await page.$eval(".swagger-ui .info .title", (el) => el.innerText);
  if (!title.includes("defect-control REST shim")) fail(`title: ${title}`);
  console.log("page loaded");

  // Every path of the served document is an operation on the page.
  const paths = await page.evaluate(async () =>
    Object.keys((await (await fetch("/api/openapi.json")).json()).paths),
  );
  const shown = await page.$$eval(".swagger-ui .opblock-summary-path", (els) =>
    els.map((el) => el.getAttribute("data-path")),
  );
  const missing = paths.filter((p) => !shown.includes(p));
  if (!paths.length || missing.length) fail(`operations not rendered: ${missing.join(", ")}`);
  const text = await page.$eval(".swagger-ui", (el) => el.innerText);
  if (!text.includes("/api/auth/login/")) fail("/api/auth/login/ is not in the page's text");
  console.log(`${paths.length} paths rendered`);

  // Try it out: POST /api/auth/login/ with a demo user, from the page (connect-src).
  const login = "#operations-auth-login";
  const opId = await page.$$eval(".swagger-ui .opblock", (els) => {
    const el = els.find(
      (e) => e.querySelector(".opblock-summary-path")?.getAttribute("data-path") === "/api/auth/login/",
    );
    return el && el.id;
  });
  if (!opId) fail(`no operation block for /api/auth/login/ (${login})`);
  const op = `#${opId}`;
  await page.click(`${op} .opblock-summary`);
  await page.waitForSelector(`${op} .try-out__btn`);
  await page.click(`${op} .try-out__btn`);
  await page.waitForSelector(`${op} textarea.body-param__text`);
  await page.click(`${op} textarea.body-param__text`, { clickCount: 1 });
  await page.keyboard.down("Control");
  await page.keyboard.press("A");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  await page.type(
    `${op} textarea.body-param__text`,
    JSON.stringify({ username: "manager", password: "manager12345" }),
  );
  await page.click(`${op} .execute`);
  const answer = await page
    .waitForFunction(
      (sel) => {
        // The first row of the live responses table (its header row has the same classes).
        const row = `${sel} .live-responses-table tr.response`;
        const el = document.querySelector(`${row} .response-col_status`);
        const body = document.querySelector(`${row} .response-col_description`);
        return el && body && body.innerText.trim() ? `${el.innerText.trim()} ${body.innerText}` : null;
      },
      { polling: 200 },
      op,
    )
    .then((h) => h.jsonValue());
  if (!answer.startsWith("200") || !answer.includes('"access"')) {
    fail(`Try it out on /api/auth/login/: ${answer.slice(0, 300)}`);
  }
  console.log("Try it out logged in through the REST shim");
});
