"""The service-provider side of one SAML provider, with pysaml2.

pysaml2 does the XML work: it builds the ``AuthnRequest`` (HTTP-Redirect binding), and checks
a ``Response`` (HTTP-POST binding): the XML signature of the assertion or of the whole
response against the certificate of the IdP metadata (through Debian's ``xmlsec1``), the
issuer, the audience (our entity ID), the ``Destination`` and ``Recipient`` (our ACS URL),
``NotBefore``/``NotOnOrAfter`` (60 s of clock skew) and ``InResponseTo`` (a request we made:
unsolicited, IdP-initiated responses are refused). Signatures made with SHA-1 are refused
here afterwards. Replays are this plugin's job
(:mod:`.replay`): pysaml2 only remembers things in the memory of one process.

The SP entity ID and ACS URL come from ``SP_metadata`` when it is given; else they are
``<PUBLIC_URL>/auth/login/<name>/metadata`` and ``.../acs``, and that metadata is generated
(unsigned, asking for signed assertions).
"""

from __future__ import annotations

import calendar
import logging
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, samlp, time_util
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.md import entity_descriptor_from_string

from transom.api import InvalidCredentialsError, StartupError

from .settings import NAME_ID, SamlSettings

log = logging.getLogger("transom.auth.saml")

#: clock skew tolerated on NotBefore / NotOnOrAfter, in seconds
CLOCK_SKEW_S = 60
#: SP configurations kept per process when the entity ID follows the request's host
MAX_ROOTS = 8


@dataclass(frozen=True)
class Assertion:
    """What a verified response says: who, with which attributes, and how to spot a replay."""

    issuer: str
    assertion_id: str
    expires: float  # epoch seconds after which the assertion is refused anyway
    attributes: dict[str, list[str]]

    def first(self, key: str) -> str | None:
        values = self.attributes.get(key) or []
        for value in values:
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None


def _xmlsec() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        raise StartupError("SAML needs the xmlsec1 program (Debian: apt-get install xmlsec1)")
    return path


def _sp_endpoints(xml: str, name: str) -> tuple[str, str]:
    """(entity ID, HTTP-POST ACS URL) of the configured SP metadata."""
    try:
        desc = entity_descriptor_from_string(xml)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad setting
        raise StartupError(f"AUTH_{name.upper()}_SP_metadata is not SAML metadata: {exc}") \
            from None
    if desc is None or not desc.entity_id or not desc.spsso_descriptor:
        raise StartupError(f"AUTH_{name.upper()}_SP_metadata has no SPSSODescriptor")
    for acs in desc.spsso_descriptor[0].assertion_consumer_service:
        if acs.binding == BINDING_HTTP_POST and acs.location:
            return str(desc.entity_id), str(acs.location)
    raise StartupError(f"AUTH_{name.upper()}_SP_metadata has no HTTP-POST "
                       "AssertionConsumerService")


class ServiceProvider:
    """pysaml2 clients of one provider, one per public root (usually exactly one)."""

    def __init__(self, settings: SamlSettings) -> None:
        self.settings = settings
        self.xmlsec = _xmlsec()
        self.fixed = (_sp_endpoints(settings.sp_metadata, settings.name)
                      if settings.sp_metadata else None)
        self._clients: OrderedDict[tuple[str, str], Saml2Client] = OrderedDict()
        self._lock = threading.Lock()
        # the IdP metadata is checked now: a bad document fails the start-up, not a login
        probe = self._build("http://transom.invalid/sp", "http://transom.invalid/acs")
        self.idp_entity_id = self._idp_of(probe)

    # -- configuration --------------------------------------------------------------------
    def endpoints(self, root: str) -> tuple[str, str]:
        """(entity ID, ACS URL) for a public root such as ``https://cms.example.com``."""
        if self.fixed is not None:
            return self.fixed
        base = f"{root}/auth/login/{self.settings.name}"
        return f"{base}/metadata", f"{base}/acs"

    def _build(self, entity_id: str, acs: str) -> Saml2Client:
        conf = {
            "entityid": entity_id,
            "xmlsec_binary": self.xmlsec,
            "metadata": {"inline": [self.settings.idp_metadata]},
            "accepted_time_diff": CLOCK_SKEW_S,
            "allow_unknown_attributes": True,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                "allow_unsolicited": False,
                "want_response_signed": False,
                "want_assertions_signed": False,
                # either signature covers the assertion; none at all is refused
                "want_assertions_or_response_signed": True,
                "authn_requests_signed": False,
            }},
        }
        config = SPConfig()
        try:
            config.load(conf)
            return Saml2Client(config)
        except Exception as exc:  # noqa: BLE001 - pysaml2 raises many kinds on bad metadata
            raise StartupError(f"AUTH_{self.settings.name.upper()}_IDP_metadata cannot be "
                               f"used: {exc}") from None

    def _idp_of(self, client: Saml2Client) -> str:
        name = self.settings.name.upper()
        idps = list(client.metadata.identity_providers())
        if len(idps) != 1:
            raise StartupError(f"AUTH_{name}_IDP_metadata must describe one identity "
                               f"provider, not {len(idps)}")
        entity = idps[0]
        if not client.metadata.single_sign_on_service(entity, BINDING_HTTP_REDIRECT):
            raise StartupError(f"AUTH_{name}_IDP_metadata has no HTTP-Redirect "
                               "SingleSignOnService")
        if not client.metadata.certs(entity, "idpsso", use="signing"):
            raise StartupError(f"AUTH_{name}_IDP_metadata has no signing certificate")
        return str(entity)

    def client(self, root: str) -> Saml2Client:
        key = self.endpoints(root)
        with self._lock:
            found = self._clients.get(key)
            if found is not None:
                self._clients.move_to_end(key)
                return found
        built = self._build(*key)
        with self._lock:
            self._clients[key] = built
            while len(self._clients) > MAX_ROOTS:
                self._clients.popitem(last=False)
        return built

    # -- the flow -------------------------------------------------------------------------
    def metadata(self, root: str) -> str:
        """The SP metadata XML: ``SP_metadata`` as given, or generated (unsigned)."""
        if self.settings.sp_metadata:
            return self.settings.sp_metadata
        entity_id, acs = self.endpoints(root)
        # written here rather than by pysaml2's generator, which lists every algorithm the
        # local xmlsec1 knows (MD5 and SHA-1 included) as supported
        descriptor = md.EntityDescriptor(
            entity_id=entity_id,
            spsso_descriptor=md.SPSSODescriptor(
                protocol_support_enumeration=samlp.NAMESPACE,
                authn_requests_signed="false", want_assertions_signed="true",
                assertion_consumer_service=[md.AssertionConsumerService(
                    binding=BINDING_HTTP_POST, location=acs, index="0", is_default="true")]))
        text = descriptor.to_string()
        return text.decode() if isinstance(text, bytes) else str(text)

    def login_url(self, root: str, request_id: str, relay_state: str) -> str:
        """The IdP's SSO URL with a deflated ``AuthnRequest`` whose ID is ``request_id``."""
        client = self.client(root)
        _, info = client.prepare_for_authenticate(
            entityid=self.idp_entity_id, relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT, message_id=request_id)
        return str(dict(info["headers"])["Location"])

    def parse(self, root: str, saml_response: str, request_id: str) -> Assertion:
        """The verified assertion of a posted ``SAMLResponse`` answering ``request_id``;
        INVALID_CREDENTIALS for anything that does not prove a login."""
        client = self.client(root)
        try:
            resp = client.parse_authn_request_response(
                saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"})
        except Exception as exc:  # noqa: BLE001 - every pysaml2 refusal is a failed login
            log.warning("SAML provider %s: response refused (%s: %s)", self.settings.name,
                        type(exc).__name__, exc)
            raise InvalidCredentialsError() from None
        if resp is None:
            log.warning("SAML provider %s: no usable response", self.settings.name)
            raise InvalidCredentialsError()
        try:
            assertion = resp.assertion
            if assertion is None or resp.in_response_to != request_id:
                log.warning("SAML provider %s: no usable assertion", self.settings.name)
                raise InvalidCredentialsError()
            weak = _sha1_signatures(resp.response, assertion)
            if weak:
                log.warning("SAML provider %s: SHA-1 signature refused (%s)",
                            self.settings.name, ", ".join(weak))
                raise InvalidCredentialsError()
            issuer = str(getattr(assertion.issuer, "text", "") or "").strip()
            if issuer != self.idp_entity_id:
                raise InvalidCredentialsError()
            attributes = _attributes(assertion)
            name_id = resp.name_id
            if name_id is not None and getattr(name_id, "text", None):
                attributes.setdefault(NAME_ID, [str(name_id.text).strip()])
            expires = float(resp.not_on_or_after or 0) or _confirmation_end(assertion)
            if not expires:
                # the Web SSO profile requires one; without it a copy would be good forever
                log.warning("SAML provider %s: assertion without NotOnOrAfter",
                            self.settings.name)
                raise InvalidCredentialsError()
            return Assertion(issuer, str(assertion.id), expires + CLOCK_SKEW_S, attributes)
        finally:
            if getattr(resp, "name_id", None) is not None:  # pysaml2 caches identities
                try:
                    client.users.remove_person(resp.name_id)
                except KeyError:
                    pass


def _sha1_signatures(*elements: Any) -> list[str]:
    """The SHA-1 algorithms the signatures of these elements use (SHA-1 collisions are
    practical: an assertion signed with it proves little)."""
    weak = []
    for element in elements:
        info = getattr(getattr(element, "signature", None), "signed_info", None)
        if info is None:
            continue
        algorithms = [getattr(info.signature_method, "algorithm", None)]
        algorithms += [getattr(r.digest_method, "algorithm", None) for r in info.reference or []]
        weak += [a for a in algorithms if a and a.lower().endswith(("#sha1", "-sha1"))]
    return weak


def _confirmation_end(assertion: Any) -> float:
    """The latest bearer ``SubjectConfirmationData/@NotOnOrAfter``, in epoch seconds."""
    ends = []
    subject = assertion.subject
    for conf in (subject.subject_confirmation if subject is not None else None) or []:
        data = conf.subject_confirmation_data
        if data is not None and data.not_on_or_after:
            ends.append(calendar.timegm(time_util.str_to_time(data.not_on_or_after)))
    return float(max(ends)) if ends else 0.0


def _attributes(assertion: Any) -> dict[str, list[str]]:
    """Attribute values by their ``Name`` as sent (what Directus's ``*_KEY`` settings name),
    also by ``FriendlyName`` when one is given and does not clash."""
    out: dict[str, list[str]] = {}
    friendly: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement or []:
        for attr in statement.attribute or []:
            values = [str(v.text).strip() for v in attr.attribute_value or []
                      if v is not None and v.text is not None]
            if attr.name:
                out.setdefault(str(attr.name), []).extend(values)
            if attr.friendly_name:
                friendly.setdefault(str(attr.friendly_name), []).extend(values)
    for key, values in friendly.items():
        out.setdefault(key, values)
    return out
