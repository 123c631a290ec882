"""The environment a check command sees: an allowlist, not a denylist.

A check runs code the model wrote, and often code downloaded from the internet (pre-commit hooks,
test plugins). A denylist misses whatever it did not think of (`TOKEN`, `APIKEY`, `CI_JOB_JWT`, a
webhook URL), so only variables that checks legitimately need pass: where things are (PATH, HOME,
TMPDIR, the virtual environment, the language toolchains), how to talk (locale, terminal, time
zone), how to reach the network (proxies, CA bundles) and who commits (git identity). Even those
are dropped when their name or value still looks like a credential (`NODE_AUTH_TOKEN`, a proxy URL
with a password). `DIFFCREW_CHECK_ENV` (names separated by commas or spaces, `PREFIX*` allowed)
adds the user's own; the model credentials never pass. Git's location variables are never passed,
so a check cannot reach the user's repository through an inherited GIT_DIR.
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Mapping

from diffcrew.tools import credentials

ALLOWED = frozenset((
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "LANG", "LANGUAGE", "TERM", "COLORTERM", "NO_COLOR",
    "TZ", "TMPDIR", "TMP", "TEMP", "COLUMNS", "LINES", "CI", "EDITOR", "DISPLAY",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_EXE", "PYENV_ROOT", "PYENV_VERSION",
    "PYTEST_ADDOPTS", "RUFF_CACHE_DIR", "MYPY_CACHE_DIR",
    "UV_CACHE_DIR", "PIP_CACHE_DIR", "PRE_COMMIT_HOME", "NVM_DIR", "NVM_BIN", "NODE_PATH", "NODE_OPTIONS",
    "NODE_ENV", "GOPATH", "GOROOT", "GOCACHE", "GOMODCACHE", "GOFLAGS", "GOPROXY", "CARGO_HOME",
    "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "JAVA_HOME", "GRADLE_USER_HOME", "MAVEN_OPTS", "DOTNET_ROOT",
    "GEM_HOME", "GEM_PATH", "BUNDLE_PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "PKG_CONFIG_PATH",
    "CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS", "MAKEFLAGS",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_EXEC_PATH",
))
ALLOWED_PREFIXES = ("LC_", "PYTHON", "XDG_")
EXTRA_VARIABLE = "DIFFCREW_CHECK_ENV"
# A second gate on the allowed names: anything that still looks like a credential is dropped.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|COOKIE|SESSION|JWT|(^|_)AUTH(_|$)|HOOK",
                         re.IGNORECASE)
SECRET_VALUE = re.compile(r"^(sk-|ghp_|gho_|ghs_|github_pat_|glpat-|xox[abpr]-|AKIA[0-9A-Z]{12}|eyJ)"
                          r"|://[^/\s:@]+:[^/\s@]*@")


def allowed(name: str, value: str) -> bool:
    """Whether a variable of the allowlist may pass (its name and value do not look secret)."""
    listed = name in ALLOWED or name.startswith(ALLOWED_PREFIXES)
    return listed and not SECRET_NAME.search(name) and not SECRET_VALUE.search(value)


def scrubbed_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: os.environ) reduced to the allowlist and the user's DIFFCREW_CHECK_ENV names,
    with prompts and pagers off."""
    source = os.environ if env is None else env
    extra = re.split(r"[\s,]+", source.get(EXTRA_VARIABLE, "").strip())
    clean = {}
    for name, value in source.items():
        if name in credentials.NAMES:
            continue
        if allowed(name, value) or any(p and fnmatch.fnmatchcase(name, p) for p in extra):
            clean[name] = value
    # Nothing may wait for a password or a pager: there is no one at stdin.
    clean.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat"})
    return clean
