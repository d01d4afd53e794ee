// GraphQL-over-HTTP conformance: runs graphql-http's auditServer against a running
// server. Fails on any MUST failure; prints SHOULD/MAY failures as warnings, and fails
// on a SHOULD failure that is not listed in ALLOWED_SHOULD (each one is explained in
// the README, section "GraphQL over HTTP").
//
// Usage: node audit.mjs http://127.0.0.1:18080/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql endpoint URL>');
  process.exit(2);
}

// SHOULDs this server does not follow on purpose (see README "GraphQL over HTTP").
const ALLOWED_SHOULD = new Set([]);

const results = await auditServer({ url });
let failed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  if (r.status === 'ok') {
    console.log(`ok    ${r.id} ${r.name}`);
    continue;
  }
  const reason = r.reason || '';
  if (level === 'MUST' || (level === 'SHOULD' && !ALLOWED_SHOULD.has(r.id))) {
    failed += 1;
    console.log(`FAIL  ${r.id} ${r.name}: ${reason}`);
  } else {
    console.log(`warn  ${r.id} ${r.name}: ${reason}`);
  }
}
const ok = results.filter((r) => r.status === 'ok').length;
console.log(`${ok}/${results.length} audits hold; ${failed} failing that must not`);
process.exit(failed === 0 ? 0 : 1);
