#!/usr/bin/env python3
"""Drives the stand-in with the real DataStax python driver (python3-cassandra).

  client.py session [protocol_version] [compression]
"""
import sys
import logging

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.query import BatchStatement, SimpleStatement

logging.basicConfig(level=logging.WARNING)

proto = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "auto" else None
compression = len(sys.argv) > 2 and sys.argv[2] == "snappy"

kw = dict(contact_points=["127.0.0.1"], port=9042, schema_metadata_enabled=False,
          token_metadata_enabled=False, max_schema_agreement_wait=0, compression=compression)
if proto:
    kw["protocol_version"] = proto
cluster = Cluster(**kw)
s = cluster.connect()
print("protocol", cluster.protocol_version)
s.execute("CREATE KEYSPACE mykeyspace WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
s.execute("USE mykeyspace")
s.execute("CREATE TABLE users (\n  user_id int PRIMARY KEY,\n  fname text,\n  lname text\n);")
s.execute("INSERT INTO users (user_id,  fname, lname) VALUES (1745, 'john', 'smith')")
print(list(s.execute("SELECT * FROM users")))
# Paging: two pages of 2 rows.
print(list(s.execute(SimpleStatement("SELECT * FROM users WHERE fname = 'john' ALLOW FILTERING", fetch_size=2))))
ins = s.prepare("INSERT INTO users (user_id, fname, lname) VALUES (?, ?, ?)")
s.execute(ins, (1746, "john", "smith"))
sel = s.prepare("SELECT * FROM users WHERE user_id = ?")
print(list(s.execute(sel, (1745,))))
b = BatchStatement()
b.add(ins, (1, "a", "b"))
b.add("INSERT INTO users (user_id, fname, lname) VALUES (2, 'c', 'd')")
s.execute(b)
for q in ["SELECT * FROM nosuchtable", "SELEC * FROM users"]:
    try:
        s.execute(q)
    except Exception as e:
        print("error:", type(e).__name__)
try:
    s.execute(SimpleStatement("SELECT * FROM users WHERE consistency_all = 1", consistency_level=ConsistencyLevel.ALL))
except Exception as e:
    print("error:", type(e).__name__)
cluster.shutdown()
