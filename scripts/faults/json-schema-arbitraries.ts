// fast-check arbitraries from the OpenAPI document's JSON Schemas (generated from our zod schemas): values a schema
// accepts, and for each location in such a value, values it must refuse (wrong type, one past a bound, unknown key).
// Runs in Node and in workerd: no imports but fast-check.
import fc from 'fast-check';

export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  format?: string;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface OpenApiOperation {
  parameters?: { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, unknown>;
}

/** Strings that have broken parsers, databases and logs elsewhere: lone surrogates, bidi overrides, NUL, BOM, huge code points. */
export const HOSTILE_STRINGS = [
  '\ud800',
  'a\udfffb',
  '\udc00\ud800',
  '\u202eevil\u202c',
  'שלום עולם',
  'مرحبا',
  '\u0000',
  'a\u0000b',
  '\ufeff',
  '\u200b\u200d',
  '💥🎥',
  'e\u0301\u0301\u0301',
  '\r\n\t',
  '%00%2e%2e%2f',
  "'; DROP TABLE streams; --",
  '{{7*7}}${7*7}',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '__proto__',
  'constructor',
];

export const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);

export function resolve(schema: JsonSchema, doc: OpenApiDocument): JsonSchema {
  let current = schema;
  for (let depth = 0; current.$ref && depth < 10; depth++) {
    const name = current.$ref.replace('#/components/schemas/', '');
    current = { ...doc.components?.schemas?.[name], ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== '$ref')) };
  }
  // A named schema given its own description is emitted as allOf [$ref, {description}]: the members merged.
  if (current.allOf) {
    const { allOf, ...rest } = current;
    current = { ...allOf.reduce<JsonSchema>((merged, part) => ({ ...merged, ...resolve(part, doc) }), {}), ...rest };
  }
  return current;
}

const typesOf = (schema: JsonSchema): string[] =>
  schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];

/** Field-specific valid values: a webhook URL must not be one a delivery would really go to, and stays disabled. */
export interface ValueOverrides {
  [property: string]: fc.Arbitrary<unknown>;
}

export function validValue(schema: JsonSchema, doc: OpenApiDocument, overrides: ValueOverrides = {}, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema, doc);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((alt) => validValue(alt, doc, overrides, depth + 1)));
  const types = typesOf(s);
  if (types.length > 1) return fc.oneof(...types.map((type) => validValue({ ...s, type }, doc, overrides, depth + 1)));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = s.minimum ?? -1_000_000;
      const max = s.maximum ?? 1_000_000;
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
    }
    case 'number': {
      const min = s.minimum ?? -1e6;
      const max = s.maximum ?? 1e6;
      return fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(min, max));
    }
    case 'string': {
      const minLength = s.minLength ?? 0;
      const maxLength = Math.min(s.maxLength ?? 64, 64);
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= minLength && v.length <= (s.maxLength ?? Infinity));
      return fc
        .oneof(hostileString, fc.string({ minLength, maxLength }), fc.constant('x'.repeat(s.maxLength ?? 64)))
        .filter((v) => v.length >= minLength && v.length <= (s.maxLength ?? Infinity));
    }
    case 'array': {
      const item = s.items ? validValue(s.items, doc, overrides, depth + 1) : fc.constant(null);
      return fc.array(item, { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    }
    case 'object':
    default: {
      if (depth > 4) return fc.constant({});
      const properties = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const fields: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, child] of Object.entries(properties)) fields[name] = overrides[name] ?? validValue(child, doc, overrides, depth + 1);
      // An overridden field is always present: its default might be the very thing the override avoids (enabled: true).
      const record = fc.record(fields, { requiredKeys: Object.keys(fields).filter((k) => required.has(k) || k in overrides) });
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        const values = validValue(s.additionalProperties, doc, overrides, depth + 1);
        return fc.dictionary(fc.oneof(fc.constantFrom('livestream_name', 'ключ', 'k'), fc.string({ minLength: 1, maxLength: 64 })), values, { maxKeys: 4 });
      }
      return record;
    }
  }
}

/** Values this schema must refuse: other JSON types, one past each bound, strings against the pattern, unknown enum members. */
export function invalidValues(schema: JsonSchema, doc: OpenApiDocument): unknown[] {
  const s = resolve(schema, doc);
  const types = new Set(typesOf(s));
  if (s.anyOf || s.oneOf) return []; // too loose to say what is refused
  const out: unknown[] = [];
  const sample: Record<string, unknown[]> = {
    string: ['5', ''],
    integer: [5],
    number: [5.5],
    boolean: [true],
    null: [null],
    array: [[], [1]],
    object: [{}, { a: 1 }],
  };
  if (types.size === 0 && !s.enum) return []; // {} accepts anything
  for (const [type, values] of Object.entries(sample)) {
    const accepted = types.has(type) || (type === 'integer' && types.has('number'));
    if (!accepted || (type === 'string' && s.enum)) out.push(...values);
  }
  if (s.enum) out.push('NOT_A_MEMBER', String(s.enum[0]).toUpperCase() + '_', ` ${String(s.enum[0])}`);
  if (types.has('integer')) {
    out.push(1.5, 2 ** 53 + 2, -(2 ** 53) - 2, 1e308);
    if (s.minimum !== undefined) out.push(s.minimum - 1);
    if (s.maximum !== undefined) out.push(s.maximum + 1);
  } else if (types.has('number')) {
    if (s.minimum !== undefined) out.push(s.minimum - 0.001, -1e308);
    if (s.maximum !== undefined) out.push(s.maximum + 0.001, 1e308);
  }
  if (types.has('string') && !s.enum) {
    if (s.maxLength !== undefined) out.push('y'.repeat(s.maxLength + 1));
    if (s.minLength !== undefined && s.minLength > 0) out.push('y'.repeat(s.minLength - 1));
    if (s.pattern) out.push('has space!', '\u0000', '\ud800');
  }
  if (types.has('array')) {
    if (s.maxItems !== undefined && s.items) out.push(Array.from({ length: s.maxItems + 1 }, () => null));
    if (s.minItems !== undefined && s.minItems > 0) out.push([]);
    out.push([{ unexpected: true }, 'mixed', 1]);
  }
  if (types.has('object') && s.additionalProperties === false) out.push({ unknownField: 1 });
  if (types.has('object') && typeof s.additionalProperties === 'object') out.push({ k: 5 }, { k: null }, { '': 'empty key' });
  if (types.has('object') && s.required?.length) out.push({});
  return out.filter((value) => value !== undefined && !(types.has('null') && value === null));
}

/** Every place in a value the schema describes, with the schema that governs it: where a mutation can go. */
export function locations(value: unknown, schema: JsonSchema, doc: OpenApiDocument, path: (string | number)[] = []): { path: (string | number)[]; schema: JsonSchema }[] {
  const s = resolve(schema, doc);
  const here = { path, schema: s };
  if (Array.isArray(value) && s.items) {
    return [here, ...value.flatMap((item, i) => locations(item, s.items!, doc, [...path, i]))];
  }
  if (value && typeof value === 'object' && s.properties) {
    const found = [here];
    for (const [name, child] of Object.entries(s.properties)) {
      if (name in (value as object)) found.push(...locations((value as Record<string, unknown>)[name], child, doc, [...path, name]));
      else found.push({ path: [...path, name], schema: resolve(child, doc) });
    }
    return found;
  }
  return [here];
}

export function setAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  copy[head!] = setAt(copy[head!], rest, replacement);
  return copy;
}
