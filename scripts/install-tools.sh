#!/usr/bin/env bash
# Installs what building (and, with --browser, testing) needs, skipping whatever is already
# there at the right version, so a rerun takes seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# --browser: also what the tests need (Chromium, Firefox ESR and WebKitGTK with their drivers,
# PostgreSQL, nginx, schemathesis); --bench: also the start-up benchmark's browser driver
# (implies --browser).
want_browser=false want_bench=false
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=true ;;
    --bench) want_browser=true want_bench=true ;;
    *) echo "install-tools: unknown option $arg" >&2; exit 2 ;;
  esac
done

step() { printf '==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The widget's release toolchain (env.sh): the pinned nightly with the standard library's
# source, which -Zbuild-std compiles; its crates are fetched now, since Trunk builds offline.
if ! rustup run "$WIDGET_NIGHTLY" rustc --print sysroot >/dev/null 2>&1 ||
   [[ ! -f "$(rustup run "$WIDGET_NIGHTLY" rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]]; then
  step "installing the widget's release toolchain $WIDGET_NIGHTLY (with rust-src)"
  rustup toolchain install "$WIDGET_NIGHTLY" --profile minimal --component rust-src
fi

if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
  # Not --locked: the locked build wants a webpki-roots the index lacks (TOOLCHAIN.md).
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [[ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]]; then
  step "installing trunk $TRUNK_VERSION"
  cargo install --force --locked trunk --version "$TRUNK_VERSION"
fi

# Zopfli writes the gzip copies the server sends (scripts/compress-assets.mjs): the same
# deflate format every gzip reader inflates, about 5 % smaller than zlib's level 9.
if ! cargo install --list | grep -qx "zopfli v$ZOPFLI_VERSION:"; then
  step "installing zopfli $ZOPFLI_VERSION"
  cargo install --force --locked zopfli --version "$ZOPFLI_VERSION"
fi

# npm's binaryen, never Debian's (108 silently breaks the output).
if ! wasm-opt --version 2>/dev/null | grep -q "version_$BINARYEN_VERSION"; then
  step "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into .tools/"
  npm install --prefix "$ROOT/.tools" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
fi

# npm packages in .tools/, each at exactly its pinned version.
npm_version() { node -p "require('$ROOT/.tools/node_modules/$1/package.json').version" 2>/dev/null; }
npm_tool() {
  if [[ "$(npm_version "$1")" != "$2" ]]; then
    step "installing $1 $2 into .tools/"
    npm install --prefix "$ROOT/.tools" --save-exact --no-audit --no-fund --loglevel=error "$1@$2"
  fi
}
# The size report minifies the loader with it.
npm_tool terser "$TERSER_VERSION"
# The accessibility checker the end-to-end tests inject into pages.
if $want_browser; then npm_tool axe-core "$AXE_CORE_VERSION"; fi
# Drives Chromium for the start-up benchmark (the system's browser: it downloads none).
if $want_bench; then npm_tool playwright-core "$PLAYWRIGHT_CORE_VERSION"; fi

# The three browser engines the end-to-end tests drive (TALK_E2E_ENGINE), with their drivers,
# all Debian's: Chromium (chromium, chromium-driver), Firefox ESR (firefox-esr) and WebKitGTK
# (webkit2gtk-driver: WebKitWebDriver and MiniBrowser, run under Xvfb because MiniBrowser's
# --headless hangs). One apt-get for whatever is missing.
minibrowser=/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser
missing=()
if $want_browser; then
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v firefox-esr >/dev/null || missing+=(firefox-esr)
  { command -v WebKitWebDriver && [[ -x "$minibrowser" ]]; } >/dev/null || missing+=(webkit2gtk-driver)
  command -v Xvfb >/dev/null || missing+=(xvfb)
  # The bot of docs/bots.md, which the e2e tests run as printed (and schemathesis's venv).
  command -v python3 >/dev/null || missing+=(python3 python3-venv)
fi
if ((${#missing[@]})); then
  step "installing Debian's ${missing[*]}"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Firefox's WebDriver server, from crates.io (Debian has none).
if $want_browser && [[ "$(geckodriver --version 2>/dev/null | head -n 1)" != "geckodriver $GECKODRIVER_VERSION"* ]]; then
  step "installing geckodriver $GECKODRIVER_VERSION"
  cargo install --force geckodriver --version "$GECKODRIVER_VERSION"
fi

# PostgreSQL for the server's tests on PostgreSQL (scripts/postgres.sh starts a throwaway
# cluster): Debian 12's postgresql-15, whose initdb and pg_ctl live in its own bin folder.
# Without it those tests are skipped (and said so), not failed.
if $want_browser && [[ ! -x /usr/lib/postgresql/15/bin/initdb ]]; then
  step "installing Debian's postgresql-15"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  if ! { "${sudo_cmd[@]}" apt-get update &&
         DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends postgresql-15; }; then
    echo "install-tools: postgresql-15 could not be installed; the PostgreSQL tests will be skipped" >&2
  fi
fi

# nginx for the two-node end-to-end tests (crates/talk-e2e/tests/cluster.rs): the tests run
# their own nginx (deploy/nginx.conf, in a temp folder, not as a daemon) in front of two
# talk-servers. Debian's package would start the system's nginx on port 80 at once: a
# policy-rc.d that refuses every service start is put in place for the install (unless one is
# there already) and removed after, so nothing is left listening.
if $want_browser && [[ ! -x /usr/sbin/nginx ]]; then
  step "installing Debian's nginx (its service not started)"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  own_policy=false
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
    own_policy=true
  fi
  installed=true
  { "${sudo_cmd[@]}" apt-get update &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends nginx; } ||
    installed=false
  if $own_policy; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
  $installed || { echo "install-tools: nginx could not be installed" >&2; exit 1; }
fi

# coturn (Debian 12's 4.6.1) for the voice tests: scripts/coturn.sh runs its own turnserver
# on loopback with a generated secret, in a temp folder, as the current user. The package
# would start the system's turnserver (port 3478, all interfaces) through invoke-rc.d or
# deb-systemd-invoke, and enables its systemd unit for the next boot: the same policy-rc.d as
# nginx's refuses the start, the unit is disabled after, and a turnserver the machine's own
# policy-rc.d let start is stopped (nothing else can be running one yet: it was not installed).
if $want_browser && [[ ! -x /usr/bin/turnserver ]]; then
  step "installing Debian's coturn (its service not started)"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  own_policy=false
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
    own_policy=true
  fi
  installed=true
  { "${sudo_cmd[@]}" apt-get update &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends coturn; } ||
    installed=false
  if $own_policy; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
  $installed || { echo "install-tools: coturn could not be installed" >&2; exit 1; }
  # systemctl disables the unit without a running systemd too (it edits the symlinks).
  now=()
  [[ -d /run/systemd/system ]] && now=(--now)
  "${sudo_cmd[@]}" systemctl disable "${now[@]}" --quiet coturn.service 2>/dev/null || true
  "${sudo_cmd[@]}" /etc/init.d/coturn stop >/dev/null 2>&1 || true
  if pidof turnserver >/dev/null; then
    echo "install-tools: a system turnserver is still running (pid $(pidof turnserver))" >&2
    exit 1
  fi
fi

# schemathesis (PyPI) for the generated-request check (scripts/check-api-fuzz.sh), in its own
# virtualenv under .tools/, it and its dependencies at the exact versions of
# scripts/api-fuzz/requirements.txt; the copy kept in the virtualenv says what is installed.
st_requirements="$ROOT/scripts/api-fuzz/requirements.txt" st_venv="$ROOT/.tools/schemathesis"
if $want_browser && ! { [[ -x "$st_venv/bin/st" ]] && cmp -s "$st_requirements" "$st_venv/requirements.txt"; }; then
  step "installing schemathesis into .tools/schemathesis ($(grep '^schemathesis==' "$st_requirements"))"
  rm -rf "$st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$st_requirements"
  cp "$st_requirements" "$st_venv/requirements.txt"
fi

# Trunk runs cargo offline (it must never download anything), so fetch crates first.
cargo fetch --locked --quiet
cargo "+$WIDGET_NIGHTLY" fetch --locked --quiet \
  --manifest-path "$(rustup run "$WIDGET_NIGHTLY" rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.toml"
