#!/usr/bin/env node
// Derives strict JSON Schemas (draft 2020-12) for the OCSF event classes toOcsf emits, from the
// OCSF schema sources (https://github.com/ocsf/ocsf-schema, Apache-2.0), so a test can validate
// Warden's events with ajv without an OCSF server.
//
//   node packages/core/scripts/derive-ocsf-schemas.mjs --repo <ocsf-schema git dir> [--ref 1.8.0]
//
// Writes packages/core/test/ocsf/schemas/<class>.schema.json. What it models: class inheritance
// (`extends`), `$include`d profiles and includes, dictionary types (with `range`, `max_len`),
// `is_array`, object types and their `extends`, required attributes, integer enums on `*_id`
// attributes, `at_least_one`/`just_one` constraints, class/category/type uids, and unknown
// attributes as errors. Profile attributes are required only when `metadata.profiles` is absent or
// names the profile (as the OCSF server applies profiles), and must be absent when profiles are
// declared without it. Not modelled: regexes of string types, sibling captions, observables.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const CLASSES = ['api_activity', 'datastore_activity', 'authentication']

const { values } = parseArgs({
  options: { repo: { type: 'string' }, ref: { type: 'string', default: '1.8.0' }, out: { type: 'string' } },
})
if (!values.repo) {
  console.error('usage: derive-ocsf-schemas.mjs --repo <path to an ocsf-schema git clone> [--ref 1.8.0]')
  process.exit(2)
}
const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), '../test/ocsf/schemas')
const ref = values.ref

const cache = new Map()
function read(path) {
  if (!cache.has(path)) {
    const text = execFileSync('git', ['-C', values.repo, 'show', `${ref}:${path}`], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    })
    cache.set(path, JSON.parse(text))
  }
  return cache.get(path)
}
function list(dir) {
  const text = execFileSync('git', ['-C', values.repo, 'ls-tree', '-r', '--name-only', ref, dir], {
    encoding: 'utf8',
  })
  return text.split('\n').filter((p) => p.endsWith('.json'))
}

const dictionary = read('dictionary.json')
const categories = read('categories.json').attributes
const version = read('version.json').version

/** Attributes of a definition with its `$include`s merged in, profile attributes tagged with their profile. */
function ownAttributes(def) {
  const attrs = {}
  for (const inc of def.attributes.$include ?? []) {
    const included = read(inc)
    const profile = inc.startsWith('profiles/') ? included.name : undefined
    for (const [name, a] of Object.entries(ownAttributes(included)))
      attrs[name] = { ...(profile ? { profile } : {}), ...a }
  }
  for (const [name, a] of Object.entries(def.attributes)) {
    if (name === '$include') continue
    attrs[name] = {
      ...attrs[name],
      ...a,
      enum: a.enum ? { ...attrs[name]?.enum, ...a.enum } : attrs[name]?.enum,
    }
  }
  return attrs
}

function merged(def, find) {
  const parent = def.extends && def.extends !== 'object' ? merged(find(def.extends), find) : undefined
  const attrs = { ...parent?.attributes }
  for (const [name, a] of Object.entries(ownAttributes(def))) {
    const base = attrs[name]
    attrs[name] = { ...base, ...a, enum: a.enum ? { ...base?.enum, ...a.enum } : base?.enum }
    // `profile: null` in a class detaches an attribute from the profile that brought it in
    if (a.profile === null) delete attrs[name].profile
  }
  return {
    attributes: attrs,
    constraints: def.constraints ?? parent?.constraints,
    category: def.category ?? parent?.category,
  }
}

const eventFiles = new Map(list('events').map((p) => [read(p).name, p]))
const objectFiles = new Map(list('objects').map((p) => [read(p).name, p]))
const findEvent = (name) => read(eventFiles.get(name))
const findObject = (name) => {
  if (!objectFiles.has(name)) throw new Error(`unknown OCSF object ${name}`)
  return read(objectFiles.get(name))
}

function primitive(typeName) {
  const types = dictionary.types.attributes
  const t = types[typeName]
  const base = t?.type ?? typeName
  const schema =
    base === 'string_t'
      ? { type: 'string' }
      : base === 'integer_t' || base === 'long_t'
        ? { type: 'integer' }
        : base === 'float_t'
          ? { type: 'number' }
          : base === 'boolean_t'
            ? { type: 'boolean' }
            : {} // json_t: any JSON value
  if (t?.range) Object.assign(schema, { minimum: t.range[0], maximum: t.range[1] })
  if (t?.max_len) schema.maxLength = t.max_len
  return schema
}

const defs = {}
function objectRef(name) {
  if (name === 'object') return { type: 'object' }
  if (!(name in defs)) {
    defs[name] = {} // placeholder: objects refer to each other recursively
    defs[name] = shape(merged(findObject(name), findObject), { profilesRequired: false })
  }
  return { $ref: `#/$defs/${name}` }
}

function attributeSchema(name, a) {
  const d = dictionary.attributes[name]
  if (!d) throw new Error(`attribute ${name} is not in the dictionary`)
  const type = a.type ?? d.type
  let schema = type.endsWith('_t') ? primitive(type) : objectRef(a.object_type ?? type)
  const enumeration = a.enum ?? d.enum
  if (enumeration && schema.type === 'integer')
    schema = { ...schema, enum: Object.keys(enumeration).map(Number) }
  return (a.is_array ?? d.is_array) ? { type: 'array', items: schema } : schema
}

/** One object or class as a JSON Schema: known attributes only, required ones required. */
function shape(def, { profilesRequired }) {
  const properties = {}
  const required = []
  const byProfile = {}
  for (const [name, a] of Object.entries(def.attributes)) {
    properties[name] = attributeSchema(name, a)
    if (a.profile) {
      byProfile[a.profile] ??= []
      byProfile[a.profile].push(name)
    }
    if (a.requirement !== 'required') continue
    if (a.profile && profilesRequired) continue
    if (!a.profile) required.push(name)
  }
  const schema = { type: 'object', properties, additionalProperties: false }
  if (required.length > 0) schema.required = required.sort()
  const all = []
  for (const names of def.constraints?.at_least_one ? [def.constraints.at_least_one] : [])
    all.push({ anyOf: names.map((n) => ({ required: [n] })) })
  for (const names of def.constraints?.just_one ? [def.constraints.just_one] : [])
    all.push({ oneOf: names.map((n) => ({ required: [n] })) })
  if (profilesRequired) {
    for (const [profile, names] of Object.entries(byProfile).sort()) {
      const req = names.filter((n) => def.attributes[n].requirement === 'required').sort()
      const declared = { properties: { metadata: { required: ['profiles'] } }, required: ['metadata'] }
      const named = {
        properties: { metadata: { properties: { profiles: { contains: { const: profile } } } } },
      }
      // (`if D then X` is written `anyOf [not D, X]`.) Profiles declared without this one: its
      // attributes are not part of the event.
      all.push({
        anyOf: [{ not: declared }, named, { not: { anyOf: names.map((n) => ({ required: [n] })) } }],
      })
      // Its required attributes are required when profiles are not declared, or declared with it.
      if (req.length > 0) all.push({ anyOf: [{ required: req }, { allOf: [declared, { not: named }] }] })
    }
  }
  if (all.length > 0) schema.allOf = all
  return schema
}

mkdirSync(out, { recursive: true })
for (const className of CLASSES) {
  for (const k of Object.keys(defs)) delete defs[k]
  const event = findEvent(className)
  const def = merged(event, findEvent)
  const categoryUid = categories[def.category].uid
  const classUid = categoryUid * 1000 + event.uid
  const schema = shape(def, { profilesRequired: true })
  const activities = Object.keys(def.attributes.activity_id.enum).map(Number)
  Object.assign(schema.properties, {
    class_uid: { const: classUid },
    category_uid: { const: categoryUid },
    activity_id: { type: 'integer', enum: activities },
    type_uid: { type: 'integer', enum: activities.map((a) => classUid * 100 + a) },
  })
  const sorted = Object.fromEntries(
    Object.keys(defs)
      .sort()
      .map((k) => [k, defs[k]]),
  )
  const document = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://warden.dev/ocsf/${version}/${className}.schema.json`,
    $comment: `Derived from the OCSF schema ${version} (https://github.com/ocsf/ocsf-schema, Apache License 2.0, Copyright the OCSF contributors) by packages/core/scripts/derive-ocsf-schemas.mjs. Do not edit; rerun the script.`,
    title: `OCSF ${version} ${event.caption} (${classUid})`,
    ...schema,
    $defs: sorted,
  }
  const file = join(out, `${className}.schema.json`)
  writeFileSync(file, `${JSON.stringify(document)}\n`)
  console.log(`${file}: class ${classUid}, ${Object.keys(defs).length} objects`)
}
