#!/usr/bin/env bash
# Start the single-node test Kafka broker (Apache Kafka 4.1.1 in KRaft mode,
# broker and controller in one JVM, from Maven Central; see README.md) in the
# background and wait until it serves clients. Idempotent: a broker already
# started by this script is reused.
#
# Listeners (base port NT_KAFKA_PORT, default 19092):
#   base+0  PLAINTEXT
#   base+1  SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#   base+2  SSL             client certificate required (mutual TLS)
#   base+3  CONTROLLER      (KRaft, not for clients)
#   base+4  SASL_SSL        the three mechanisms over TLS
#   base+5  PROXIED         PLAINTEXT, but advertised as base+6: a test runs
#                           a TCP proxy there and cuts it to fake an outage
# User for every SASL mechanism: nt / nt-secret. Certificates are made at each
# start under run/certs/: ca.pem, server.pem (CN localhost, SAN 127.0.0.1),
# client.pem + client-key.pem (signed by the same CA).
#
# Files: run/broker.pid, run/broker.log, run/data/ (wiped at each start).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="${NT_KAFKA_PORT:-19092}"
p_plain=$base p_sasl=$((base + 1)) p_ssl=$((base + 2)) p_ctl=$((base + 3)) p_sasl_ssl=$((base + 4)) p_proxied=$((base + 5)) p_proxy=$((base + 6))
run="$here/run"
pidfile="$run/broker.pid"
log="$run/broker.log"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
t0=$(date +%s.%N)

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && listening "$p_plain"; then
  echo "kafka: already running (pid $(cat "$pidfile")) at 127.0.0.1:$p_plain"
  exit 0
fi
for p in $p_plain $p_sasl $p_ssl $p_ctl $p_sasl_ssl $p_proxied; do
  if listening "$p"; then
    echo "kafka: something not started by this script already listens on 127.0.0.1:$p" >&2
    exit 1
  fi
done

bash "$here/build.sh"
classpath="$(cat "$here/target/classpath.txt")"

rm -rf "$run"
mkdir -p "$run/data" "$run/certs"

# Certificates (P-256: quick to make): a CA, the broker's (key as PKCS#8, which Kafka's PEM key store
# needs) and a client's for the mutual-TLS test.
c="$run/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=network-traffic test CA" \
  -keyout "$c/ca-key.pem" -out "$c/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$c/server-key.pem" -out "$c/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$c/server.ext"
openssl x509 -req -in "$c/server.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$c/server.ext" -out "$c/server.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=network-traffic test client" \
  -keyout "$c/client-key.pem" -out "$c/client.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$c/client.ext"
openssl x509 -req -in "$c/client.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$c/client.ext" -out "$c/client.pem" 2>/dev/null
cat "$c/server.pem" "$c/server-key.pem" >"$c/server-keystore.pem"

jaas_plain='org.apache.kafka.common.security.plain.PlainLoginModule required user_nt="nt-secret";'
jaas_scram='org.apache.kafka.common.security.scram.ScramLoginModule required;'
cat >"$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$p_ctl
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$p_plain,SASL_PLAINTEXT://127.0.0.1:$p_sasl,SSL://127.0.0.1:$p_ssl,CONTROLLER://127.0.0.1:$p_ctl,SASL_SSL://127.0.0.1:$p_sasl_ssl,PROXIED://127.0.0.1:$p_proxied
advertised.listeners=PLAINTEXT://127.0.0.1:$p_plain,SASL_PLAINTEXT://127.0.0.1:$p_sasl,SSL://127.0.0.1:$p_ssl,SASL_SSL://127.0.0.1:$p_sasl_ssl,PROXIED://127.0.0.1:$p_proxy
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,PROXIED:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas_plain
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$jaas_scram
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$jaas_scram
listener.name.sasl_ssl.plain.sasl.jaas.config=$jaas_plain
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$jaas_scram
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$jaas_scram
ssl.keystore.type=PEM
ssl.keystore.location=$c/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$c/ca.pem
listener.name.ssl.ssl.client.auth=required
PROPS

# -Xmx512m and the serial collector: the machine is shared, the data tiny.
# TieredStopAtLevel=1 (C1 only) roughly halves the JIT's startup CPU.
# Bytecode verification of the Maven Central jars is skipped: less class
# loading work at startup for a throwaway test broker.
jvm=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  -XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote
  -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$run")

cluster_id="$(python3 -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
echo "kafka: starting broker on 127.0.0.1:$p_plain (log: $log)"
# One JVM formats the log dir (SCRAM users written into the metadata log)
# and then runs the broker: see src/main/java/.../Launcher.java.
nohup "$java" "${jvm[@]}" -cp "$here/target/classes:$classpath" dev.networktraffic.kafka.Launcher \
  "$run/server.properties" "$cluster_id" \
  --add-scram 'SCRAM-SHA-256=[name=nt,password=nt-secret]' \
  --add-scram 'SCRAM-SHA-512=[name=nt,password=nt-secret]' >"$log" 2>&1 </dev/null &
echo $! >"$pidfile"

for _ in $(seq 1 600); do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "kafka: broker exited during startup; last log lines:" >&2
    tail -n 40 "$log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  if grep -q 'Kafka Server started' "$log" && listening "$p_plain"; then
    # Wall time depends on what else runs; the JVM's CPU time does not.
    cpu=$(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$(cat "$pidfile")/stat" 2>/dev/null || echo "?")
    printf 'kafka: ready at 127.0.0.1:%s (pid %s) in %.1fs (broker JVM CPU %ss)\n' "$p_plain" "$(cat "$pidfile")" \
      "$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo 0)" "$cpu"
    exit 0
  fi
  sleep 0.2
done
echo "kafka: not ready after 120s; last log lines:" >&2
tail -n 40 "$log" >&2
exit 1
