// cyclonedx-validate.mjs: validate a CycloneDX JSON SBOM with the CycloneDX project's own library
// (@cyclonedx/cyclonedx-library, its strict JSON schema for the document's specVersion, checked by ajv).
//
//   node cyclonedx-validate.mjs FILE
//
// Prints one JSON document: {"valid": true|false, "specVersion": "1.5", "errors": <ajv's errors or null>}.
// Exit 0 valid, 1 invalid, 2 unreadable file, unknown spec version or missing validator dependency.
import { readFileSync } from 'node:fs';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

const file = process.argv[2];
if (!file) {
  console.error('usage: node cyclonedx-validate.mjs FILE');
  process.exit(2);
}

let text;
let specVersion;
try {
  text = readFileSync(file, 'utf8');
  specVersion = JSON.parse(text).specVersion;
} catch (e) {
  console.error(`cannot read ${file}: ${e.message}`);
  process.exit(2);
}

const versions = { '1.2': Spec.Version.v1dot2, '1.3': Spec.Version.v1dot3, '1.4': Spec.Version.v1dot4, '1.5': Spec.Version.v1dot5, '1.6': Spec.Version.v1dot6 };
const version = versions[specVersion];
if (version === undefined) {
  console.error(`unknown CycloneDX specVersion ${JSON.stringify(specVersion)}`);
  process.exit(2);
}

try {
  const errors = await new Validation.JsonStrictValidator(version).validate(text);
  console.log(JSON.stringify({ valid: errors === null, specVersion, errors }));
  process.exit(errors === null ? 0 : 1);
} catch (e) {
  console.error(`validator could not run: ${e.message}`);
  process.exit(2);
}
