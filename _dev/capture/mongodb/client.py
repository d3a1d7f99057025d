#!/usr/bin/env python3
"""Drives the stand-in server with the real client library (python3-pymongo
3.11). Usage: client.py modern|compressed|legacy"""
import sys, time
import pymongo
from pymongo.write_concern import WriteConcern

mode = sys.argv[1]
kw = dict(serverSelectionTimeoutMS=3000, heartbeatFrequencyMS=60000, appname="capture")
if mode == "compressed":
    kw["compressors"] = "zlib"
c = pymongo.MongoClient("127.0.0.1", 27017, **kw)
db = c.shop
if mode == "legacy":
    # maxWireVersion 2: finds go as OP_QUERY, getMore as OP_GET_MORE, and
    # unacknowledged writes as OP_INSERT/OP_UPDATE/OP_DELETE.
    c.admin.command("ping")
    w0 = db.items.with_options(write_concern=WriteConcern(w=0))
    for i in range(5):
        w0.insert_one({"_id": i, "name": "item%d" % i, "qty": i * 10})
    w0.update_one({"_id": 1}, {"$set": {"qty": 99}})
    w0.delete_one({"_id": 4})
    time.sleep(0.2)
    print(list(db.items.find({}, batch_size=2)))
    print(list(db.items.find({"qty": 99}, {"name": 1}).skip(0).limit(3)))
    try:
        db.command("noSuchCommand")
    except pymongo.errors.OperationFailure as e:
        print("error:", e)
else:
    c.admin.command("ping")
    db.items.insert_many([{"_id": i, "name": "item%d" % i, "qty": i * 10, "tags": ["a", "b"], "price": 1.5 * i} for i in range(5)])
    print(list(db.items.find({"qty": {"$gte": 0}} if False else {}, batch_size=2)))
    print(db.items.update_one({"_id": 1}, {"$set": {"qty": 99}}).modified_count)
    print(db.items.delete_many({"_id": 4}).deleted_count)
    print(list(db.items.find({"_id": 1}, {"name": 1})))
    try:
        db.command("noSuchCommand")
    except pymongo.errors.OperationFailure as e:
        print("error:", e)
c.close()
