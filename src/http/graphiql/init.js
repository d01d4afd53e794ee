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
  // The endpoint is this page's own path, so the page also works behind a path prefix.
  var fetcher = GraphiQL.createFetcher({ url: location.pathname });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: "headers"
    })
  );
})();
