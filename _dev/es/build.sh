#!/usr/bin/env bash
# Build the test node launcher (OpenSearch 2.19.6 from Maven Central, see README.md):
# installs a JDK 17 and Maven from Debian when missing, resolves the engine's jars into
# ~/.m2 and compiles the launcher. Idempotent and quick when nothing changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v mvn >/dev/null 2>&1 || need+=(maven)
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  need+=(openjdk-17-jdk-headless)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "es: installing ${need[*]}"
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
echo "es: building launcher (mvn package; first run downloads ~100 MB from Maven Central)"
rm -f "$stamp"
(cd "$here" && mvn -B -q -DskipTests package)
touch "$stamp"
