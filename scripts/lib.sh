# Shared by ./mvm and scripts/test. Sourced, not run.

# Prints the home of a JDK >= 21: $JAVA_HOME if it qualifies, else the newest under /usr/lib/jvm.
mvm_find_jdk() {
  local candidate version best="" best_major=0 major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/*/; do
    candidate=${candidate%/}
    [ -x "$candidate/bin/javac" ] || continue
    version=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$candidate/release" 2>/dev/null)
    major=${version%%.*}
    [[ "$major" =~ ^[0-9]+$ ]] || continue
    if [ -n "${JAVA_HOME:-}" ] && [ "$candidate" = "${JAVA_HOME%/}" ] && [ "$major" -ge 21 ]; then
      echo "$candidate"; return 0
    fi
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then
      best=$candidate; best_major=$major
    fi
  done
  if [ -z "$best" ]; then
    echo "mvm: no JDK 21 or newer found (looked at \$JAVA_HOME and /usr/lib/jvm/*)." >&2
    echo "     Install one (e.g. a Temurin 21+ package) or set JAVA_HOME to it." >&2
    return 1
  fi
  echo "$best"
}

# Builds the CLI distribution when any source or pom is newer than the last build.
mvm_build_if_stale() {
  local root=$1 stamp="$1/mvm-cli/target/lib/.built"
  if [ -f "$stamp" ] && [ -z "$(find "$root" -path "$root/.git" -prune -o \
        \( -name '*.java' -o -name 'pom.xml' -o -path '*/src/main/resources/*' \) -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  echo "mvm: building (first use or sources changed)..." >&2
  if ! command -v mvn >/dev/null 2>&1; then
    echo "mvm: Maven (mvn) is needed to build mvm; install it (Debian: apt-get install maven)." >&2
    return 1
  fi
  local jdk_major; jdk_major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$JAVA_HOME/release")
  # Maven 3.8 uses sun.misc.Unsafe; newer JDKs warn loudly about it.
  [ "${jdk_major:-0}" -ge 24 ] && export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  # Debian's Maven on newer JDKs emits bare colour-reset codes even in batch mode; strip them.
  if ! (set -o pipefail; cd "$root" && mvn -B -q -DskipTests package -pl mvm-cli -am 2>&1 \
        | sed -u 's/\x1b\[[0-9;]*m//g' >&2); then
    echo "mvm: build failed (see above)." >&2; return 1
  fi
  touch "$stamp"
}
