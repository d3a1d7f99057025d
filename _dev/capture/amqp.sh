#!/usr/bin/env bash
# Captures the AMQP test pcaps under _dev/pcaps/amqp/ from real traffic: Debian's
# rabbitmq-server inside a throwaway network namespace (own lo, so ports 5672,
# 4369 and 25672 are free and nothing else ends up in the files), driven by
# python3-pika.
#
#   session.pcap  one connection: exchange.declare (topic, durable, with an
#                 argument), queue.declare with x-arguments, queue.bind,
#                 basic.publish of a text message carrying every content
#                 property and a header table with every value type pika
#                 writes (S, I, l, t, D, T, F, A, V, x), basic.get (get-ok),
#                 basic.get on an empty queue (get-empty), basic.consume +
#                 basic.deliver + basic.ack, basic.cancel, basic.nack,
#                 basic.reject, queue.purge, queue.unbind, tx.select/commit/
#                 rollback, confirm.select, queue.delete, exchange.delete, and
#                 finally queue.declare of the same queue with conflicting
#                 arguments -> the server's channel.close 406
#                 PRECONDITION_FAILED.
#   large.pcap    frame_max 4096: a 10000-byte binary body published and
#                 consumed (split over three body frames each way), and a
#                 publish to a missing exchange -> channel.close 404.
#
# Recapturing changes ports, times and consumer tags that the tests in
# decoders/amqp pin: update them (and regenerate the samples) afterwards.
#
# Needs root, iproute2, tcpdump, rabbitmq-server, python3-pika. Run from the
# repo root:
#   sudo _dev/capture/amqp.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/amqp}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-amqp
tmp=$(mktemp -d)
chown rabbitmq:rabbitmq "$tmp"

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  # rabbitmq-server runs as user rabbitmq under a wrapper: stop it politely.
  ip netns exec "$NS" env HOME="$tmp" RABBITMQ_NODENAME=rabbit@localhost rabbitmqctl stop >/dev/null 2>&1 || true
  [[ -n "${SPID:-}" ]] && kill "$SPID" 2>/dev/null || true
  sleep 1
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up

ip netns exec "$NS" env HOME="$tmp" \
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=rabbit@localhost \
  RABBITMQ_MNESIA_BASE="$tmp/mnesia" RABBITMQ_LOG_BASE="$tmp/log" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$tmp/enabled_plugins" \
  sh -c 'echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"; exec rabbitmq-server' >"$tmp/server.log" 2>&1 &
SPID=$!
for _ in $(seq 120); do
  ip netns exec "$NS" ss -ltn | grep -q '127.0.0.1:5672 ' && break
  sleep 0.5
done

capture() { # file -> starts tcpdump on the namespace's lo, sets TPID
  : >"$tmp/tcpdump.log"
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" 'tcp port 5672' 2>"$tmp/tcpdump.log" &
  TPID=$!
  for _ in $(seq 50); do
    grep -q listening "$tmp/tcpdump.log" && break
    sleep 0.1
  done
  sleep 0.5
}
stop_capture() {
  sleep 0.5
  kill -TERM "$TPID"
  wait "$TPID" 2>/dev/null || true
  TPID=
}

cat >"$tmp/client.py" <<'PY'
import datetime, decimal, sys
import pika

scenario = sys.argv[1]
params = pika.ConnectionParameters(host="127.0.0.1", port=5672,
                                   frame_max=4096 if scenario == "large" else 131072,
                                   heartbeat=0)
conn = pika.BlockingConnection(params)
ch = conn.channel()

if scenario == "session":
    ch.exchange_declare("orders.topic", exchange_type="topic", durable=True,
                        arguments={"alternate-exchange": "orders.unrouted"})
    ch.queue_declare("orders", durable=False, arguments={"x-message-ttl": 60000, "x-max-length": 100})
    ch.queue_bind("orders", "orders.topic", routing_key="order.*")
    props = pika.BasicProperties(
        content_type="text/plain", content_encoding=None,
        headers={
            "tenant": "acme", "retries": 3, "big": 5000000000, "urgent": True,
            "price": decimal.Decimal("12.50"),
            "sent": datetime.datetime(2026, 11, 26, 1, 30, 0),
            "trace": {"span": "ab12", "depth": 2},
            "tags": ["a", "b", 7],
            "none": None,
            "raw": b"\x01\x02\xff",
        },
        delivery_mode=2, priority=5, correlation_id="corr-42", reply_to="replies",
        expiration="60000", message_id="msg-1",
        timestamp=1795656600, type="order.created", user_id="guest", app_id="capture")
    ch.basic_publish("orders.topic", "order.created", b"order 1 created", properties=props)
    ch.basic_publish("", "orders", b'{"id":2}', properties=pika.BasicProperties(content_type="application/json", delivery_mode=1))
    # basic.get answers get-ok with the oldest message, then get-empty.
    m, p, body = ch.basic_get("orders", auto_ack=False)
    ch.basic_ack(m.delivery_tag)
    m, p, body = ch.basic_get("orders", auto_ack=True)
    ch.basic_get("orders", auto_ack=True)
    # consume: deliver + ack, then nack and reject with requeue off.
    ch.basic_publish("", "orders", b"to consumer", properties=pika.BasicProperties(content_type="text/plain"))
    got = []
    tag = ch.basic_consume("orders", lambda c, m, p, b: got.append(m), consumer_tag="ctag-1")
    while not got:
        conn.process_data_events(time_limit=1)
    ch.basic_ack(got[0].delivery_tag)
    ch.basic_cancel(tag)
    ch.basic_publish("", "orders", b"nack me")
    m, p, body = ch.basic_get("orders")
    ch.basic_nack(m.delivery_tag, requeue=False)
    ch.basic_publish("", "orders", b"reject me")
    m, p, body = ch.basic_get("orders")
    ch.basic_reject(m.delivery_tag, requeue=False)
    ch.basic_publish("", "orders", b"purged")
    ch.queue_purge("orders")
    ch.queue_unbind("orders", "orders.topic", routing_key="order.*")
    tx = conn.channel()
    tx.tx_select()
    tx.basic_publish("", "orders", b"in tx")
    tx.tx_commit()
    tx.tx_rollback()
    tx.close()
    cf = conn.channel()
    cf.confirm_delivery()
    cf.basic_publish("", "orders", b"confirmed")
    cf.close()
    ch.queue_delete("orders")
    ch.exchange_delete("orders.topic")
    ch.queue_declare("strict", arguments={"x-max-length": 10})
    try:
        ch.queue_declare("strict", arguments={"x-max-length": 20})
    except pika.exceptions.ChannelClosedByBroker as e:
        print("expected:", e)
    ch2 = conn.channel()
    ch2.queue_delete("strict")
else:
    ch.queue_declare("bulk", auto_delete=True)
    body = bytes(i % 251 for i in range(10000))
    ch.basic_publish("", "bulk", body, properties=pika.BasicProperties(content_type="application/octet-stream"))
    got = []
    ch.basic_consume("bulk", lambda c, m, p, b: got.append((m, b)), auto_ack=True)
    while not got:
        conn.process_data_events(time_limit=1)
    assert got[0][1] == body
    ch.basic_publish("no.such.exchange", "x", b"lost")
    try:
        conn.process_data_events(time_limit=1)
        ch.queue_declare("bulk", passive=True)
    except (pika.exceptions.ChannelClosedByBroker, pika.exceptions.ChannelWrongStateError) as e:
        print("expected:", e)
conn.close()
PY

for s in session large; do
  capture "$out/$s.pcap"
  ip netns exec "$NS" /usr/bin/python3 "$tmp/client.py" "$s"
  stop_capture
done
ls -l "$out"
