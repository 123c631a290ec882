"""Where the secrets are in a text: provider token shapes, private key blocks, URL passwords and
values assigned to credential-named keys.

The token shapes follow the public rule sets of gitleaks (config/gitleaks.toml, rule ids in the
comments) and Yelp's detect-secrets plugins; bench/secret_recall.py measures the recall on a corpus of
their documented shapes and the false positives on this repository's own source. detect-secrets
itself is not a dependency: its last release is from 2024, it scans line by line under global
settings, needs `requests`, and misses shapes listed here (Hugging Face, whole PGP key blocks).

`spans(text)` returns the (start, end) of every secret value; only the value of an assignment or
the password of a URL is a secret, never the name beside it.
"""

from __future__ import annotations

import re

# Whole-match token shapes, one alternation (one pass over the text).
_TOKENS = (
    r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{20,}",                      # anthropic-api-key
    r"sk-ant-[A-Za-z0-9_\-]{20,}",
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",                   # openai-api-key
    r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}\b",                # aws-access-token
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",                                     # github-pat, -oauth, -app-token
    r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",                                   # github-fine-grained-pat
    r"\bgl(?:pat|dt|rt|ptt|ft|imt|oas|cbt|soat|agent)-[A-Za-z0-9_\-]{20,}",  # gitlab-* tokens
    r"\bxox[abposre]-[A-Za-z0-9\-]{10,}",                                  # slack-*-token
    r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+",                                  # slack-app-token
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,}",  # slack-webhook-url
    r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{30,}",   # discord webhook
    r"https://[\w-]+\.webhook\.office\.com/webhookb2/[\w@/-]{20,}",         # microsoft-teams-webhook
    r"\bAIza[0-9A-Za-z_\-]{35}\b",                                         # gcp-api-key
    r"\b(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{10,99}\b",             # stripe-access-token
    r"\bwhsec_[A-Za-z0-9]{24,}\b",                                         # stripe webhook secret
    r"\bnpm_[A-Za-z0-9]{36}\b",                                            # npm-access-token
    r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",                          # pypi-upload-token
    r"\b(?:hf_|api_org_)[A-Za-z]{34}\b",                                   # huggingface-access-token
    r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # jwt
    r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b",                     # sendgrid-api-token
    r"\bSK[0-9a-fA-F]{32}\b",                                              # twilio-api-key
    r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",                             # shopify-*
    r"\bdo[opr]_v1_[a-f0-9]{64}\b",                                        # digitalocean-*
    r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}\b",             # doppler-api-token
    r"\bdapi[a-f0-9]{32}(?:-\d)?\b",                                       # databricks-api-token
    r"\blin_api_[A-Za-z0-9]{40}\b",                                        # linear-api-key
    r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b",                                 # postman-api-token
    r"\bpul-[a-f0-9]{40}\b",                                               # pulumi-api-token
    r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b",                            # grafana-service-account-token
    r"\bglc_[A-Za-z0-9+/]{32,400}={0,2}",                                  # grafana-cloud-api-token
    r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b",         # age-secret-key
    r"\bhvs\.[A-Za-z0-9_\-]{90,120}\b|\bhvb\.[A-Za-z0-9_\-]{138,300}\b",   # vault-service/batch-token
    r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b",                             # dynatrace-api-token
    r"\bsq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}\b",                           # square-access-token/secret
    r"\bEAA[MC][A-Za-z0-9]{100,}\b",                                       # facebook-access-token
    r"\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9=\-_.]{32,64}\b",                # planetscale-*
    r"\bNRAK-[A-Z0-9]{27}\b",                                              # new-relic-user-api-key
    r"\bgsk_[A-Za-z0-9]{52}\b",                                            # groq-api-key
    r"\br8_[A-Za-z0-9]{37}\b",                                             # replicate
    r"\bsbp_[a-f0-9]{40}\b",                                               # supabase access token
    r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b",                                   # notion-api-token
    r"\bfo1_[\w-]{43}\b",                                                  # flyio-access-token
    r"\bpnu_[A-Za-z0-9]{36}\b",                                            # prefect-api-token
    r"\brubygems_[a-f0-9]{48}\b",                                          # rubygems-api-token
    r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b",                           # sendinblue-api-token
    r"\bshippo_(?:live|test)_[a-f0-9]{40}\b",                              # shippo-api-token
    r"\bFLWSECK_TEST-[a-h0-9]{32}-X\b",                                    # flutterwave-secret-key
    r"\bCLOJARS_[a-z0-9]{60}\b",                                           # clojars-api-token
    r"\bATATT3[A-Za-z0-9_\-=]{186}\b",                                     # atlassian-api-token
    r"\bsntry[su]_[A-Za-z0-9+/=_]{40,}",                                   # sentry-org/user-token
    r"\bLTAI[A-Za-z0-9]{20}\b",                                            # alibaba-access-key-id
    r"\bkey-[0-9a-f]{32}\b",                                               # mailgun-private-api-token
    r"\bAccountKey=[A-Za-z0-9+/]{86}==",                                   # azure storage key
)
# Every shape starts with a literal (no leading \b: one lookbehind for all keeps the scan fast).
_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(f"(?:{p.removeprefix(chr(92) + 'b')})" for p in _TOKENS)
                       + ")")
# Shapes that start with a digit or a letter class, each behind a substring test.
_BROAD = (
    (".atlasv1.", re.compile(r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9=_\-]{60,70}\b")),  # hashicorp-tf-api-token
    ("-us", re.compile(r"\b[0-9a-f]{32}-us\d{1,2}\b")),                               # mailchimp-api-key
    (":AA", re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}\b")),                       # telegram-bot-api-token
    ("PRIVATE KEY", re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                               r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")),            # private-key
)

# A credential-like name: password, secret, token, api key, access/private/signing key, ... as
# part of a longer name (DB_PASSWORD, aws_secret_access_key, "client_secret", stripe.api_key).
_KEYWORD = (r"(?:passw(?:or)?d|pwd|_pass\b|passphrase|secret|token|api[_\-]?key|apikey|access[_\-]?key"
            r"|private[_\-]?key|signing[_\-]?key|encryption[_\-]?key|auth[_\-]?key|_key\b|_auth\b|creds?\b|credential)"
            r"[\w.\-]*")
_NAME = r"[\w.\-]*?" + _KEYWORD
# `NAME = "value"`, `"NAME": "value"`, `NAME => 'value'`, `NAME := "value"` anywhere on a line (the
# match starts at the keyword, which keeps the scan fast; the value is all that is redacted).
_QUOTED = re.compile(rf"(?i)(?P<name>{_KEYWORD})[\"']?\]?[ \t]*(?::=|=>|[:=])[ \t]*[\"'](?P<v>[^\"'\s]{{8,200}})[\"']")
# `NAME=value` / `NAME: value` at the start of a line (env files, YAML, properties, ini).
_BARE = re.compile(rf"(?im)^[ \t]*(?:export[ \t]+|-[ \t]+)?(?P<name>{_NAME})[ \t]*[:=][ \t]*(?P<v>[^\s\"'#;,]{{8,200}})"
                   r"[ \t]*(?:#.*)?$")
# The password of a URL with credentials (`https://user:pass@host`, a database DSN, a proxy).
_URL_PASSWORD = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@\[\]\"']*:(?P<v>[^/\s@\"']{3,200})@")
# `<password>value</password>` (XML configs: Maven settings, .NET, Tomcat users).
_XML = re.compile(rf"(?i)<(?P<name>{_NAME})>(?P<v>[^<\s]{{8,200}})</")
# `curl -u user:pass`, `Authorization: Basic|Bearer|Token value` (gitleaks curl-auth-user, -header).
_CURL_USER = re.compile(r"\bcurl\b[^\n]*?\s(?:-u|--user)[ =][\"']?[^\s:\"']*:(?P<v>[^\s\"']{3,200})")
_AUTH_HEADER = re.compile(r"(?i)\bAuthorization[\"']?\s*[:=]\s*[\"']?(?:Basic|Bearer|Token)\s+"
                          r"(?P<v>[A-Za-z0-9+/=_\-.~]{12,})")
_PLACEHOLDER = re.compile(r"^[<{$%(\[!*]|^\[REDACTED|^(?:x+|\*+|\.+)$|[(){}\[\]]|\.\.\.")
_REFERENCE = re.compile(r"^(?:[a-z_]+|[A-Z_]+|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|true|false|null|none|changeme)$",
                        re.IGNORECASE)
_NUMBER_OR_TIME = re.compile(r"^[\d.]+$|^\d{4}-\d\d-\d\d(?:[T ][\d:.]+)?Z?$")
_WORDS = frozenset("pass password passwd pwd secret token changeme example value user username".split())
# Names that hold no secret although they contain a keyword (after gitleaks' generic-api-key
# allowlist): an id, a name, a URL, a file, a size, a public or CSRF token, a database key.
_HARMLESS_NAME = re.compile(r"(?i)(?:id|ids|name|names|url|uri|endpoint|file|path|length|size|type|header|field"
                            r"|count|remaining|reset|limit|ttl|expiry|expires|format)$|public|csrf|bucket|primary"
                            r"|foreign|schema|sequence")


def _value_ok(value: str, bare: bool | None) -> bool:
    """A value, not a placeholder or a reference to one (a variable, an attribute, `${X}`).
    `bare` None: the context alone says it is a secret (a URL's password, a header's credential)."""
    if _PLACEHOLDER.search(value) or re.sub(r"\W", "", value).lower() in _WORDS:
        return False
    if bare is None:
        return True
    if _NUMBER_OR_TIME.match(value):  # a count, a version or a time stamp under a `*_tokens_*` name
        return False
    if bare or value.isidentifier() or "." in value:
        # Unquoted, or quoted but reading like a name: a secret has a digit or a symbol in it.
        return not _REFERENCE.match(value) and any(not c.isalpha() and c != "_" for c in value)
    return True


def _name(text: str, match: re.Match[str]) -> str:
    """The whole name a credential keyword stands in (the match may start inside it)."""
    start = match.start("name")
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    return text[start:match.end("name")]


def spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every secret in `text`, sorted, not overlapping."""
    found = [m.span() for m in _TOKEN_RE.finditer(text)]
    found += [m.span() for literal, pattern in _BROAD if literal in text for m in pattern.finditer(text)]
    rules: tuple[tuple[re.Pattern[str], bool | None], ...] = (
        (_QUOTED, False), (_BARE, True), (_XML, False), (_URL_PASSWORD, None), (_CURL_USER, None),
        (_AUTH_HEADER, None))
    for pattern, bare in rules:
        found += [m.span("v") for m in pattern.finditer(text) if _value_ok(m.group("v"), bare)
                  and not ("name" in pattern.groupindex and _HARMLESS_NAME.search(_name(text, m)))]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
