# Sourced by ./run and ./test: make sure uv and the locked dependencies are installed.
# Needs only Python 3.11+ and pip; installs uv with pip on first use, then `uv sync --locked`.
export UV_PYTHON_DOWNLOADS=never   # use this machine's Python, never download one
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"   # trust the system's certificates (company proxies)
export UV_COMPILE_BYTECODE="${UV_COMPILE_BYTECODE:-1}"   # compile once at install: faster starts and first digest
UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "consultbot: installing uv $UV_VERSION (once)..." >&2
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --user "uv==$UV_VERSION" >&2
  UV=(python3 -m uv)
fi
"${UV[@]}" sync --locked --quiet
