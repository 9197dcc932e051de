// Sample customers and orders, in a schema of their own so a real server's other data is untouched.
export const DEFAULT_SCHEMA = 'warden_demo'

export const sampleSql = (schema: string) => `
DROP SCHEMA IF EXISTS ${schema} CASCADE;
CREATE SCHEMA ${schema};
SET search_path TO ${schema};
CREATE TABLE customers (
  id int PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  ssn text NOT NULL,
  phone text NOT NULL
);
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  total numeric(10,2) NOT NULL,
  status text NOT NULL
);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace',   'ada@example.com',    '123-45-6789', '+1 415 555 0101'),
  (2, 'Grace Hopper',   'grace@example.org',  '234-56-7890', '+1 415 555 0102'),
  (3, 'Alan Turing',    'alan@example.net',   '345-67-8901', '+44 20 7946 0103'),
  (4, 'Katherine Johnson', 'kj@example.com',  '456-78-9012', '+1 757 555 0104');
INSERT INTO orders VALUES
  (101, 1, 120.50, 'paid'),
  (102, 2,  75.00, 'paid'),
  (103, 3, 310.99, 'shipped'),
  (104, 1,  12.00, 'disputed');
-- Reads like a report, deletes like a cleanup: no parser sees inside it, the server does.
CREATE FUNCTION order_report() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM orders WHERE status = 'disputed';
  RETURN (SELECT count(*) FROM orders);
END $$;
`
