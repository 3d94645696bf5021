# Sourced by the scripts that build Kiln: without Rust's cargo, one clear message and exit 2.
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: Rust is not installed (cargo was not found); Kiln builds with it" >&2
    echo "  help: install it with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh" >&2
    echo "        then open a new shell (or run: . \"\$HOME/.cargo/env\") and try again" >&2
    exit 2
fi
