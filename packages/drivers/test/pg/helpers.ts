// Shared by the pg tests: a unique database per test file on the local PostgreSQL (trust auth).
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const PG = { host: '127.0.0.1', port: 5432 }

export async function admin<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ ...PG, user: 'postgres', database })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export async function createDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  return name
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

export const SCHEMA = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text UNIQUE, phone text, note text);
INSERT INTO customers VALUES
  (1, 'Ada', 'ada@example.com', '123-45-6789', '+1 555 0100', 'vip'),
  (2, 'Bob', 'bob@example.com', '987-65-4321', '+1 555 0101', NULL),
  (3, 'Cy', NULL, NULL, NULL, 'tab	and \\ backslash');
CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers(id), total numeric, phone text);
INSERT INTO orders VALUES (10, 1, 99.5, '+1 555 0999'), (11, 2, 5, NULL);
CREATE TABLE held (id int PRIMARY KEY, v text);
INSERT INTO held VALUES (1, 'a');
`

export const POLICY = `
defaults: { effect: deny }
rules:
  - name: unparsed-sql
    when: "!sql.parsed"
    effect: deny
    reason: the statement could not be parsed
  - name: destructive-sql
    when: 'sql.types.exists(t, t in ["DROP", "TRUNCATE"]) || sql.unbounded'
    effect: deny
    reason: destructive statements are blocked
  - name: held-writes
    when: '"held" in sql.writes'
    effect: approve
    approval: { approvers: [dba], timeout: 10s }
  - name: everything-else
    when: 'true'
    effect: allow
masks:
  - name: pii
    when: '!("pii-readers" in principal.groups)'
    columns: ["email", "*.ssn", "customers.phone"]
    strategy: redact
`
