// The GraphiQL page in a real browser (Debian's Chromium via puppeteer-core), offline:
// every request to a host other than the server under test is blocked and fails the
// test. Logs in through the REST shim, puts the token into the Headers pane, runs the
// page's default query and sees data, then opens the documentation explorer and sees
// the schema's types. Usage: BASE_URL=http://127.0.0.1:PORT node graphiql.mjs
import { offline } from "./offline.mjs";

await offline("GraphiQL", async ({ page, BASE, fail, foreign }) => {
  const res = await page.goto(`${BASE}/graphql`, { waitUntil: "networkidle0" });
  if (res.status() !== 200) fail(`GET /graphql answered ${res.status()}`);
  if (foreign.length) fail(`requests to other hosts: ${foreign.join(", ")}`);
  if (!res.headers()["content-security-policy"]) fail("the page has no CSP");
  await page.waitForSelector(".graphiql-container");
  console.log("page loaded");

  // Log in through the REST shim, from the page (so connect-src is exercised too).
  const access = await page.evaluate(async () => {
    const r = await fetch("/api/auth/login/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "manager", password: "manager12345" }),
    });
    return (await r.json()).access;
  });
  if (!access) fail("no access token from POST /api/auth/login/");
  console.log("logged in");

  // The Headers pane (open on first sight) is a CodeMirror editor: set its text.
  await page.waitForSelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
  await page.evaluate((token) => {
    const cm = document.querySelector(
      ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
    ).CodeMirror;
    cm.setValue(JSON.stringify({ Authorization: `Bearer ${token}` }));
  }, access);

  // Run the default query and read the response pane.
  const defaultQuery = await page.evaluate(
    () => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue(),
  );
  if (!defaultQuery.includes("query Overview")) fail("the default query is missing");
  await page.click(".graphiql-execute-button");
  const text = await page
    .waitForFunction(
      () => {
        const el = document.querySelector(".graphiql-response .CodeMirror");
        const v = el && el.CodeMirror.getValue();
        return v && v.trim().startsWith("{") ? v : null;
      },
      { polling: 200 },
    )
    .then((h) => h.jsonValue());
  const body = JSON.parse(text);
  if (body.errors) fail(`the default query failed: ${JSON.stringify(body.errors)}`);
  if (body.data.me.username !== "manager") fail(`me is ${JSON.stringify(body.data.me)}`);
  if (!(body.data.projects.totalCount > 0)) fail("no projects in the response");
  if (!(body.data.defects.nodes.length > 0)) fail("no defects in the response");
  console.log(
    `query ran: ${body.data.projects.totalCount} projects, ${body.data.defects.totalCount} defects`,
  );

  // The second tab: the viewer's inbox (the demo has notifications for the manager).
  const tabs = await page.$$eval(".graphiql-tab", (els) => els.map((e) => e.innerText.trim()));
  if (tabs.length < 3 || tabs[1] !== "Inbox") fail(`tabs: ${JSON.stringify(tabs)}`);
  await page.evaluate(() => document.querySelectorAll(".graphiql-tab-button")[1].click());
  await page.waitForFunction(
    () =>
      /query Inbox/.test(
        document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue(),
      ),
    { polling: 200 },
  );
  // Let the editor take the tab's document in (its operation name) before running it.
  await new Promise((r) => setTimeout(r, 1000));
  // Each tab keeps its own headers: the token again.
  await page.evaluate((token) => {
    const cm = document.querySelector(
      ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
    ).CodeMirror;
    cm.setValue(JSON.stringify({ Authorization: `Bearer ${token}` }));
  }, access);
  await page.click(".graphiql-execute-button");
  const inbox = await page
    .waitForFunction(
      () => {
        const el = document.querySelector(".graphiql-response .CodeMirror");
        const v = el && el.CodeMirror.getValue();
        return v && (v.includes("unreadCount") || v.includes('"errors"')) ? v : null;
      },
      { polling: 200 },
    )
    .then((h) => h.jsonValue());
  const box = JSON.parse(inbox);
  if (box.errors) fail(`the inbox query failed: ${JSON.stringify(box.errors)}`);
  if (!(box.data.notifications.unreadCount > 0)) fail(`no unread notifications: ${inbox}`);
  console.log(`inbox tab ran: ${box.data.notifications.unreadCount} unread`);

  // The documentation explorer needs the introspection query to be answered.
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector(".graphiql-doc-explorer");
  await page.waitForFunction(
    () => {
      const t = document.querySelector(".graphiql-doc-explorer")?.innerText ?? "";
      return /Root Types/.test(t) || /Error fetching schema/i.test(t);
    },
    { polling: 200 },
  );
  const docs = await page.$eval(".graphiql-doc-explorer", (el) => el.innerText);
  if (!/Root Types/.test(docs)) fail(`documentation explorer: ${docs.slice(0, 300)}`);
  // Into the query type: the schema's own fields are listed.
  await page.evaluate(() => {
    const link = [...document.querySelectorAll(".graphiql-doc-explorer a")].find(
      (a) => a.innerText.trim() === "Query",
    );
    link.click();
  });
  await page.waitForFunction(
    () => /defects/.test(document.querySelector(".graphiql-doc-explorer")?.innerText ?? ""),
    { polling: 200 },
  );
  console.log("documentation explorer shows the schema");
});
