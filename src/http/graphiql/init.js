// Starts GraphiQL on the page of GET /graphql. A file of its own, not an inline
// script, so the page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var defaultQuery = [
    "# Welcome to defect-control. Most fields need a login.",
    "# The REST endpoints (login, CSV export, downloads) are described at",
    "#   " + location.origin + "/api/docs/",
    "#",
    "# 1. Get a token (demo users are in the README and seed/demo.json):",
    "#      curl -s -X POST " + location.origin + "/api/auth/login/ \\",
    "#        -H 'content-type: application/json' \\",
    "#        -d '{\"username\":\"manager\",\"password\":\"manager12345\"}'",
    "#    (or run `mutation { login(username: \"manager\", password: \"manager12345\") { access } }`)",
    "# 2. Open the Headers pane below and put",
    "#      {\"Authorization\": \"Bearer <access>\"}",
    "# 3. Run this query (Ctrl-Enter). The book icon on the left opens the",
    "#    documentation explorer; Ctrl-Space completes names.",
    "",
    "query Overview {",
    "  me { username role }",
    "  projects(first: 5) {",
    "    totalCount",
    "    nodes { id title stages { title } }",
    "  }",
    "  defects(first: 5, orderBy: { field: DEADLINE, direction: ASC }) {",
    "    totalCount",
    "    nodes { id title status priority deadline performer { username } }",
    "  }",
    "  reports { summary { total open overdue avgResolutionHours } }",
    "}",
    ""
  ].join("\n");
  // The second and third tabs: what needs the viewer, and the same live.
  var inbox = [
    "# What needs me: the inbox, newest first. Log in as engineer / engineer12345",
    "# (README) and put the token into the Headers pane as in the first tab.",
    "query Inbox {",
    "  notifications(first: 10) {",
    "    unreadCount",
    "    nodes { id cursor kind text createdAt readAt defect { id key title } }",
    "    pageInfo { endCursor hasNextPage }",
    "  }",
    "  myNotificationSettings { email muted language }",
    "}",
    ""
  ].join("\n");
  var live = [
    "# New notifications as they happen, over the WebSocket (the Headers pane's",
    "# Authorization is sent in connection_init). Pass after: <a cursor> to get",
    "# first what came after it, without gap or duplicate.",
    "subscription LiveInbox {",
    "  notifications { id cursor kind text defect { key title } }",
    "}",
    ""
  ].join("\n");
  // The endpoint is this page's own path, so the page also works behind a path prefix.
  // Subscriptions go over the WebSocket beside it (graphql-transport-ws); the
  // Headers pane's Authorization travels in connection_init.
  var fetcher = GraphiQL.createFetcher({
    url: location.pathname,
    subscriptionUrl:
      (location.protocol === "https:" ? "wss://" : "ws://") +
      location.host +
      location.pathname.replace(/\/$/, "") +
      "/ws"
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultTabs: [{ query: defaultQuery }, { query: inbox }, { query: live }],
      defaultEditorToolsVisibility: "headers"
    })
  );
})();
