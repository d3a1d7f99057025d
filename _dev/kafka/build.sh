#!/usr/bin/env bash
# Build the test Kafka broker (Apache Kafka 4.1.1, KRaft) from Maven Central:
# installs a JDK 17 and Maven from Debian when missing, resolves kafka_2.13 and
# its runtime dependencies into ~/.m2, compiles the launcher and writes
# target/classpath.txt.
# Idempotent and quick when nothing changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v mvn >/dev/null 2>&1 || need+=(maven)
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  need+=(openjdk-17-jdk-headless)
fi
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "kafka: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# target/.built marks a finished build; the jars it lists must still be in ~/.m2.
stamp="$here/target/.built"
cp="$here/target/classpath.txt"
if [ -f "$stamp" ] && [ -f "$cp" ] && [ -z "$(find "$here/pom.xml" "$here/src" -newer "$stamp" -type f 2>/dev/null | head -1)" ] \
   && tr ':' '\n' <"$cp" | xargs -r -n1 test -f 2>/dev/null; then
  exit 0
fi
echo "kafka: resolving the broker (mvn package; first run downloads ~35 MB from Maven Central)"
rm -f "$stamp"
(cd "$here" && mvn -B -q package)
touch "$stamp"
