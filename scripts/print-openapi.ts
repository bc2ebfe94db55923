// `npm run openapi`: writes the edge's OpenAPI document to shared/client/openapi.json and the client's types generated
// from it to shared/client/schema.d.ts (both committed; a test fails when they are stale).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OPENAPI_JSON_PATH, SCHEMA_TYPES_PATH, openApiJson, schemaTypes } from './openapi-artifacts.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const documentJson = await openApiJson();
writeFileSync(`${root}${OPENAPI_JSON_PATH}`, documentJson);
writeFileSync(`${root}${SCHEMA_TYPES_PATH}`, await schemaTypes(documentJson));
const paths = Object.keys((JSON.parse(documentJson) as { paths: object }).paths).length;
process.stdout.write(`${JSON.stringify({ wrote: [OPENAPI_JSON_PATH, SCHEMA_TYPES_PATH], paths })}\n`);
