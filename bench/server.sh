# Sourced by the benchmarks: builds kiln, and starts a managed PostgreSQL instance in $work/server
# (set $work first) that is destroyed when the benchmark exits. Sets $kiln and $port.
cargo build --release --quiet
kiln="$PWD/target/release/kiln"
rm -rf "$work"
mkdir -p "$work/server"
printf 'name: bench_server\nprofile: server\n' > "$work/server/project.yml"
printf 'server:\n  outputs:\n    dev:\n      type: postgres\n      managed: true\n      data_dir: %s/server/pg\n' "$work" > "$work/server/profiles.yml"
"$kiln" local start --project-dir "$work/server" >/dev/null
# KEEP_SERVER=1 leaves it running (with its data) to look into the plans afterwards; destroy it
# with `kiln local destroy --project-dir $work/server`.
if [ "${KEEP_SERVER:-0}" != 1 ]; then
    trap '"$kiln" local destroy --project-dir "$work/server" >/dev/null 2>&1 || true' EXIT
fi
port=$(cat "$work/server/pg/port")
# The managed instance authenticates with a generated password (scram-sha-256), kept in a file
# only its owner reads: psql and dbt's profiles read it from here.
PGPASSWORD=$(cat "$work/server/pg/password")
export PGPASSWORD

# Installs dbt-core into a virtualenv under /tmp when KILN_BENCH_DBT=1; sets $venv.
venv=/tmp/kiln-bench-dbt-venv
if [ "${KILN_BENCH_DBT:-0}" = 1 ] && [ ! -x "$venv/bin/dbt" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "dbt-core~=1.11.0" "dbt-postgres~=1.11.0"
fi

# Wall seconds of a command (its output discarded).
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }

# A profiles.yml whose profile `bench` reaches this server: bench_profile FILE SCHEMA THREADS.
bench_profile() {
    cat > "$1" <<YML
bench:
  target: dev
  outputs:
    dev:
      type: postgres
      host: 127.0.0.1
      port: $port
      user: kiln
      password: "$PGPASSWORD"
      dbname: kiln
      schema: $2
      threads: $3
YML
}
