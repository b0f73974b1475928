// Validates a SARIF log (stdin) against the SARIF 2.1.0 JSON schema shipped by Microsoft's
// @microsoft/jest-sarif, with ajv as that package uses it. Prints "valid" or the errors.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const Ajv = require('ajv');
const schema = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
const draft4 = require('ajv/lib/refs/json-schema-draft-04.json');

const ajv = new Ajv({ allErrors: true, schemaId: 'auto', verbose: false });
ajv.addMetaSchema(draft4);
const validate = ajv.compile(schema);
const log = JSON.parse(readFileSync(0, 'utf8'));
if (validate(log)) {
  console.log('valid');
} else {
  console.error(JSON.stringify(validate.errors, null, 1));
  process.exitCode = 1;
}
