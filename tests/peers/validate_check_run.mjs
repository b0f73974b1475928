// Validates check-run request bodies against GitHub's own OpenAPI description (@octokit/openapi,
// api.github.com, dereferenced): the requestBody schemas of `checks/create` and `checks/update`.
// stdin: JSON array of {operation: "create"|"update", body}. Prints "valid" or the errors.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const Ajv = require('ajv');
const spec = require('@octokit/openapi/generated/api.github.com.deref.json');

const operations = {
  create: spec.paths['/repos/{owner}/{repo}/check-runs'].post,
  update: spec.paths['/repos/{owner}/{repo}/check-runs/{check_run_id}'].patch,
};
// OpenAPI 3 keywords that are not JSON Schema are ignored; unknown formats are not checked.
const ajv = new Ajv({ allErrors: true, unknownFormats: 'ignore', nullable: true, schemaId: 'auto' });
const requests = JSON.parse(readFileSync(0, 'utf8'));
let failures = 0;
for (const [index, { operation, body }] of requests.entries()) {
  const schema = operations[operation].requestBody.content['application/json'].schema;
  const validate = ajv.compile(schema);
  if (!validate(body)) {
    failures += 1;
    console.error(`request ${index} (${operation}): ${JSON.stringify(validate.errors, null, 1)}`);
  }
}
if (failures === 0) {
  console.log('valid');
} else {
  process.exitCode = 1;
}
