#!/usr/bin/env bash
# Makes Temporal's time-skipping test server (the Java program `TestWorkflowEnvironment.createTimeSkipping`
# runs) available from Maven Central, because the SDK's own download (temporal.download) is not
# reachable everywhere. Caches the jars in .tools/temporal-test-server/<version>/lib and writes a
# wrapper that takes the port as its argument, as the SDK passes it. Idempotent: a cached run takes
# well under a second. Prints the wrapper's path on stdout; progress goes to stderr.
# Needs Java 17+ and Maven; installs them with apt-get when missing and run as root on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${FETCHBOX_TEST_SERVER_VERSION:-1.31.0}"
DIR="$PWD/.tools/temporal-test-server/$VERSION"
WRAPPER="$DIR/bin/temporal-test-server"

if [ -x "$WRAPPER" ] && [ -f "$DIR/lib/.complete" ]; then echo "$WRAPPER"; exit 0; fi

if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "test-server: installing Java and Maven with apt-get..." >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends default-jre-headless maven >&2
  else
    cat >&2 <<MSG
test-server: the workflow unit tests need Java 17+ and Maven to run Temporal's time-skipping test
server (io.temporal:temporal-test-server from Maven Central). Install them, e.g. on Debian:
  apt-get install default-jre-headless maven
then run: bash scripts/test-server.sh
MSG
    exit 1
  fi
fi

echo "test-server: fetching io.temporal:temporal-test-server:$VERSION and its dependencies from Maven Central into ${DIR#"$PWD"/}/lib..." >&2
mkdir -p "$DIR/lib" "$DIR/bin"
cat >"$DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>fetchbox.tools</groupId><artifactId>temporal-test-server</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$VERSION</version></dependency>
    <!-- a no-op logging backend, so the server does not print SLF4J's warning into test output -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
mvn -q -B -Dstyle.color=never -f "$DIR/pom.xml" dependency:copy-dependencies -DoutputDirectory="$DIR/lib" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
touch "$DIR/lib/.complete"
cat >"$WRAPPER" <<SH
#!/bin/sh
# Temporal's time-skipping test server; the SDK passes the port as the first argument.
exec java -cp '$DIR/lib/*' io.temporal.testserver.TestServer "\$@"
SH
chmod +x "$WRAPPER"
echo "test-server: ready: $WRAPPER" >&2
echo "$WRAPPER"
