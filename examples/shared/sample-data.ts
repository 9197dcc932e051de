// Sample customers and orders shared by the agent-postgres and mcp-server examples.
export const SAMPLE_DATA = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, phone text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(10,2) NOT NULL, status text NOT NULL);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'ada.lovelace@analytical.example.net', '+1 415 555 0101'),
  (2, 'Grace Hopper', 'grace.hopper@navy.example.org', '+1 415 555 0102');
INSERT INTO orders VALUES
  (101, 1, 250.00, 'delivered'),
  (102, 1,  12.00, 'paid'),
  (103, 2,  75.00, 'paid');
`
