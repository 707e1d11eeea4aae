// The graphql-http audit suite (GraphQL over HTTP spec conformance) against a served dibx.
//
//   DIBX_AUDIT_TOKEN=<bearer> node audit.mjs http://127.0.0.1:8000/graphql
//
// dibx answers nothing without a bearer token, so every audit request carries one. The audits
// run as graphql-http's auditServer runs them: all at once (about 60 requests). Prints one
// JSON object per audit ({id, name, status, and for others than "ok" the reason and the
// response judged}) on stdout; the exit code is 0 whatever the results
// (tests/integration/test_graphql_http_audit.py judges them).
import { auditServer } from "graphql-http";

const url = process.argv[2];
const token = process.env.DIBX_AUDIT_TOKEN;
if (!url || !token) {
  console.error("usage: DIBX_AUDIT_TOKEN=<bearer> node audit.mjs <graphql url>");
  process.exit(2);
}

function withToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

for (const result of await auditServer({ url, fetchFn: withToken })) {
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    line.reason = result.reason;
    line.response = result.response
      ? { status: result.response.status, body: await result.response.text() }
      : null;
  }
  console.log(JSON.stringify(line));
}
