"""Extra DNS records of `webstack:edge.records`: validated against Cloudflare's API rules and
rendered in the form Cloudflare stores (TXT as quoted character-strings, addresses and hostnames
canonical), so the provider reads back what it was sent and a second `pulumi up` changes
nothing; and the rules that need the whole zone (one owner of the zone-wide names).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from components.config.base import Allowed, OneLine, Section, choice, dns_labels, one_line, problem, whole

HEX32 = whole(r"[0-9a-f]{32}")
Hex32 = Annotated[str, Field(pattern=HEX32), Allowed("a 32-hex Cloudflare id")]


# Extra records. Cloudflare's rules, https://developers.cloudflare.com/dns/:
# manage-dns-records/reference/dns-record-types/ (TXT content <= 2,048 characters, <= 8,192 per
# name; CNAME with A/AAAA/CNAME at one name refused), reference/ttl/ (1 = automatic, else 60-86400),
# proxy-status/ (only A, AAAA and CNAME can be proxied). MX priority 0-65535: the provider's own
# validator (terraform-provider-cloudflare v5 internal/services/dns_record/schema.go).
RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "TXT")
PROXIABLE = ("A", "AAAA", "CNAME")
CAA_TAGS = ("iodef", "issue", "issuewild")
TXT_MAX = 2048
TXT_PER_NAME_MAX = 8192
TXT_STRING_MAX = 255  # bytes in one character-string (RFC 1035 section 3.3)
TTL_MIN, TTL_MAX = 60, 86400
_LABEL = re.compile(whole(r"(?!-)[a-z0-9_-]{1,63}(?<!-)"))
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CAA = re.compile(whole(r"(0|128)\s+([a-z]+)\s+(.+)"))
# TXT records of which a name holds one, by their version tag: SPF (RFC 7208: two are a
# permerror), DMARC (RFC 7489), DKIM (a selector holds one key), MTA-STS, TLS-RPT, BIMI.
_TXT_TAG = re.compile(r"^v=(spf1|dmarc1|dkim1|stsv1|tlsrptv1|bimi1)(?=[\s;]|\Z)")
PAGES_NAME = re.compile(whole(r"[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?"))


def lower_name(value: Any) -> Any:
    """A name as Cloudflare stores it: lower case, without the root's dot or surrounding spaces
    (a line break or other control character is refused, not stripped)."""
    value = one_line(value)
    return value.strip(" ").lower().removesuffix(".") if isinstance(value, str) else value


def is_dns_name(value: str) -> bool:
    """A fully qualified name as Cloudflare takes it: a name dnspython parses (dns_labels) of two
    labels or more, each of letters, digits, '-' and '_'."""
    labels = dns_labels(value)
    return labels is not None and len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def in_zone(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def under(name: str, parent: str) -> bool:
    """`name` is `parent` itself or a name below it."""
    return name == parent or name.endswith("." + parent)


def txt_strings(content: str) -> list[str]:
    """The character-strings of TXT content: plain text cut into strings of at most 255 bytes,
    or text already written as quoted strings (`"v=DKIM1; k=rsa; " "p=MIIB..."`) taken apart.
    Raises ValueError saying what is wrong."""
    if any(not " " <= c <= "~" for c in content):
        raise ValueError("printable ASCII on one line (no newlines, tabs or other control characters)")
    if not content.startswith('"'):
        data = content.encode()
        return [data[i : i + TXT_STRING_MAX].decode() for i in range(0, len(data), TXT_STRING_MAX)]
    # Our rule: nothing but quoted strings one space or more apart. Their unescaping and the
    # 255-byte limit are dnspython's (dns.rdtypes.txtbase, RFC 1035 section 5.1 escapes).
    pos = 0
    while pos < len(content):
        match = _QUOTED.match(content, pos)
        if not match:
            raise ValueError(
                'plain text, or only double-quoted strings separated by spaces ("..." "..."), '
                'with \\" and \\\\ for a quote and a backslash inside'
            )
        pos = match.end()
        while pos < len(content) and content[pos] == " ":
            pos += 1
    import dns.exception
    import dns.rdata

    try:
        rdata = dns.rdata.from_text("IN", "TXT", content)
    except dns.exception.DNSException:
        raise ValueError(f"quoted strings of at most {TXT_STRING_MAX} bytes each (RFC 1035), or plain text") from None
    return [s.decode() for s in rdata.strings]


def txt_content(content: str) -> str:
    """TXT content in the form Cloudflare stores: quoted strings of at most 255 bytes, one space
    apart (sent unquoted, the dashboard flags the record and another tool may re-quote it)."""
    import dns.rdtypes.ANY.TXT

    strings = [s.encode() for s in txt_strings(content)]
    return dns.rdtypes.ANY.TXT.TXT("IN", "TXT", strings).to_text()


def caa_data(content: str) -> dict[str, Any]:
    """`0 issue "letsencrypt.org"` as the API's CAA fields {flags, tag, value}: Cloudflare takes a
    CAA record's parts, not its text (the provider's `content` conflicts with `data`)."""
    import dns.exception
    import dns.rdata

    match = _CAA.match(content.strip())
    value = match[3].strip('"') if match else ""
    try:  # dnspython reads the record (flags 0-255, tag, value); which of it Cloudflare takes is ours
        parsed = dns.rdata.from_text("IN", "CAA", content.strip()) if match else None
    except dns.exception.DNSException:
        parsed = None
    if parsed is not None:
        value = parsed.value.decode()
    if not parsed or match[2] not in CAA_TAGS or not value or '"' in value:
        raise ValueError(f'"<flags> <tag> <value>" with flags 0 or 128 and tag one of {", ".join(CAA_TAGS)}, '
                         'e.g. 0 issue "letsencrypt.org"')  # fmt: skip
    return {"flags": int(match[1]), "tag": match[2], "value": value}


def _hostname(value: str) -> str:
    name = lower_name(value)
    if not is_dns_name(name):
        raise ValueError("a fully qualified hostname such as mx.sendgrid.net")
    return name


def _address(kind: str, value: str, proxied: bool) -> str:
    cls = ipaddress.IPv4Address if kind == "A" else ipaddress.IPv6Address
    try:
        address = cls(value)
    except ValueError:
        raise ValueError(f"an IPv{4 if kind == 'A' else 6} address") from None
    if proxied and not address.is_global:
        raise ValueError("a public address when proxied (Cloudflare's edge cannot reach a private one)")
    return str(address)  # canonical (RFC 5952): what Cloudflare stores and reads back


def _digest(value: Any) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()[:8]


class DnsRecord(Section):
    """One extra record of the zone (mail, verification, a CNAME to an outside service)."""

    name: Annotated[str, BeforeValidator(lower_name), Field(min_length=1), Allowed("a fully qualified name")]
    """Fully qualified name inside the zone, e.g. _dmarc.example.com; no default."""
    type: choice(*RECORD_TYPES)
    """Record type; no default."""
    content: Annotated[
        str,
        Field(min_length=1, max_length=TXT_MAX),
        OneLine,
        Allowed(f"a non-empty string of at most {TXT_MAX} characters"),
    ]
    """Value: an address (A/AAAA), a hostname (CNAME/MX), text (TXT; quoted for you, split into
    255-byte strings), `0 issue "letsencrypt.org"` (CAA); no default."""
    priority: Annotated[int, Field(ge=0, le=65535), Allowed("an integer 0-65535")] | None = None
    """MX preference, lower first; required for MX, refused for the other types."""
    ttl: Annotated[int, Field(ge=1, le=TTL_MAX)] = 1
    """Seconds: 1 (automatic) or 60-86400; proxied records take 1 only."""
    proxied: bool = False
    """Serve through Cloudflare's proxy (A, AAAA, CNAME only)."""
    import_: Hex32 | None = Field(default=None, alias="import")
    """Id of an existing record to adopt on the next `pulumi up` (needs edge.zoneId; remove after)."""

    def value(self) -> str | None:
        """`content` as Cloudflare stores it; None for CAA, which is sent as `data`."""
        if self.type == "TXT":
            return txt_content(self.content)
        if self.type in ("A", "AAAA"):
            return _address(self.type, self.content, self.proxied)
        if self.type in ("CNAME", "MX"):
            return _hostname(self.content)
        return None

    def data(self) -> dict[str, Any] | None:
        return caa_data(self.content) if self.type == "CAA" else None

    def key(self) -> str:
        """What identifies the record among those of its name (the child resource's name ends in it).

        A CNAME is alone at its name, and a name holds one SPF, DMARC or DKIM record: those are
        known by kind, so editing one updates it in place (two SPF records side by side, even for
        a moment, are a permerror a resolver may cache). Others repeat at a name (MX hosts,
        round-robin addresses, verification tokens, CAA entries) and are known by value: removing
        one never rewrites another into a copy of a third, which Cloudflare would refuse.
        """
        if self.type == "CNAME":
            return "cname"
        if self.type == "TXT":
            if "_domainkey" in self.name.split("."):
                return "txt-dkim"
            tag = _TXT_TAG.match("".join(txt_strings(self.content)).lower())
            return f"txt-{tag[1]}" if tag else f"txt-{_digest(self.value())}"
        if self.type == "CAA":
            data = caa_data(self.content)
            return f"caa-{data['tag']}-{_digest(data['value'])}"
        return f"{self.type.lower()}-{_digest(self.value())}"

    def problems(self, key: str) -> list[str]:
        """What Cloudflare would refuse in this record alone, each naming `key`.<field>."""
        bad = []
        try:
            stored = self.value() or ""
            self.data()
            if len(stored) > TXT_MAX:
                bad.append(problem(f"{key}.content", self.content[:40] + "...", (
                    f"at most {TXT_MAX} characters as Cloudflare stores it, quoted ({len(stored)})"
                )))  # fmt: skip
        except ValueError as err:
            bad.append(problem(f"{key}.content", self.content, str(err)))
        if self.type == "MX" and self.priority is None:
            bad.append(problem(f"{key}.priority", None, "set for an MX record (0-65535, lower first)"))
        if self.type != "MX" and self.priority is not None:
            bad.append(problem(f"{key}.priority", self.priority, f"unset for a {self.type} record (MX only)"))
        if self.proxied and self.type not in PROXIABLE:
            bad.append(problem(f"{key}.proxied", True, f"false for a {self.type} record (only A, AAAA, CNAME proxy)"))
        if 1 < self.ttl < TTL_MIN:
            bad.append(problem(f"{key}.ttl", self.ttl, f"1 (automatic) or {TTL_MIN}-{TTL_MAX}"))
        elif self.proxied and self.ttl != 1:
            bad.append(problem(f"{key}.ttl", self.ttl, (
                "1 on a proxied record (Cloudflare answers with its own TTL and reads back 1)"
            )))  # fmt: skip
        return bad


def default_project_name(domain: str, stack: str) -> str:
    """The Pages project of a stack when frontend.projectName is unset: unique per domain and stack."""
    return f"{domain.replace('.', '-')}-{stack}"


def join_values(values: Any) -> str:
    return ", ".join(map(str, values))
