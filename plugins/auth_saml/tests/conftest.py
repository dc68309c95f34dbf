"""A real SAML identity provider for the tests, and a browser-less user agent.

``saml_idp`` runs a pysaml2 IdP (``saml2.server.Server``, signing with an RSA key and a
self-signed certificate made here with ``cryptography``) as an HTTP server on a free port of
127.0.0.1, in a thread, for the session. Its ``GET /sso`` reads the deflated ``AuthnRequest``
of the HTTP-Redirect binding and answers what a real IdP answers after its login form: an
HTML form that posts a signed ``SAMLResponse`` and the untouched ``RelayState`` to the ACS
URL the request names. Query parameters the test adds stand for the user's login and for
misbehaviours (an unsigned response, another audience, an expired assertion, another key,
SHA-1).

``Browser`` walks the flow: our start route (302 to the IdP), the IdP (its form), the ACS
(the form posted), each step by hand so that it can be inspected, replayed or tampered with.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
import werkzeug.serving
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.config import IdPConfig
from saml2.md import entity_descriptor_from_string
from saml2.metadata import create_metadata_string
from saml2.server import Server
from werkzeug.wrappers import Request, Response

from transom.testing.helpers import RedirectBrowser, response_json

CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


def make_key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """An RSA key and a self-signed certificate for it, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    key_file, cert_file = folder / f"{name}.key", folder / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


#: the metadata the IdP starts with, until a test registers Transom's (``Idp.register``)
PLACEHOLDER_SP = (
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    'entityID="urn:placeholder"><md:SPSSODescriptor '
    'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<md:AssertionConsumerService index="0" Location="http://placeholder.invalid/acs" '
    'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"/></md:SPSSODescriptor>'
    '</md:EntityDescriptor>')


def _server(base: str, key_file: Path, cert_file: Path, minutes: int = 5) -> Server:
    config = IdPConfig()
    config.load({
        "entityid": f"{base}/metadata",
        "metadata": {"inline": [PLACEHOLDER_SP]},
        "xmlsec_binary": shutil.which("xmlsec1"),
        "key_file": str(key_file),
        "cert_file": str(cert_file),
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(f"{base}/sso", BINDING_HTTP_REDIRECT)]},
            "name_id_format": [saml.NAMEID_FORMAT_PERSISTENT],
            "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            "policy": {"default": {"lifetime": {"minutes": minutes},
                                   "attribute_restrictions": None,
                                   "name_form": saml.NAME_FORMAT_URI}},
        }},
    })
    return Server(config=config)


class IdpApp:
    """The WSGI app of the test IdP."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = ""
        self.server: Server | None = None
        self.rogue: Server | None = None
        self.expired: Server | None = None
        self.lock = threading.Lock()
        self.sps: dict[str, str] = {}

    def setup(self, base: str) -> None:
        self.base = base
        keys = make_key_pair(self.folder, "idp")
        self.server = _server(base, *keys)
        # the same IdP, whose assertions ended 10 minutes before they were issued
        self.expired = _server(base, *keys, minutes=-10)
        # same entity ID and endpoints, another key: what a forger would sign with
        self.rogue = _server(base, *make_key_pair(self.folder, "rogue"))

    def metadata(self) -> str:
        assert self.server is not None
        text = create_metadata_string(None, config=self.server.config)
        return text.decode() if isinstance(text, bytes) else str(text)

    def register(self, xml: str) -> None:
        """Trust this SP metadata (what an administrator uploads to a real IdP)."""
        entity = entity_descriptor_from_string(xml).entity_id
        with self.lock:
            self.sps[entity] = xml
            for server in (self.server, self.rogue, self.expired):
                assert server is not None
                server.metadata.metadata.clear()
                for known in self.sps.values():
                    server.metadata.load("inline", known)

    def __call__(self, environ: Any, start_response: Any) -> Any:
        req = Request(environ)
        if req.path == "/sp" and req.method == "PUT":
            self.register(req.get_data(as_text=True))
            resp = Response(status=204)
        elif req.path == "/metadata":
            resp = Response(self.metadata(), mimetype="text/xml")
        elif req.path == "/sso":
            try:
                resp = self.sso(req)
            except Exception:  # noqa: BLE001 - shown to the failing test
                resp = Response(traceback.format_exc(), status=500)
        else:
            resp = Response("not found", status=404)
        return resp(environ, start_response)

    def sso(self, req: Request) -> Response:
        assert self.server and self.rogue and self.expired
        args = req.args
        with self.lock:  # pysaml2's Server is not meant to be shared by threads
            parsed = self.server.parse_authn_request(args["SAMLRequest"], BINDING_HTTP_REDIRECT)
            authn = parsed.message
            sp_entity = authn.issuer.text
            acs = authn.assertion_consumer_service_url
            server = self.rogue if args.get("key") == "rogue" else \
                self.expired if args.get("expired") else self.server
            user = args.get("user", "ann")
            identity = json.loads(args["attributes"]) if "attributes" in args else {
                CLAIMS + "nameidentifier": [user],
                CLAIMS + "emailaddress": [f"{user}@example.org"],
                CLAIMS + "givenname": [user.title()],
                CLAIMS + "surname": ["Tester"],
            }
            sign = args.get("sign", "assertion")
            name_id = saml.NameID(format=saml.NAMEID_FORMAT_PERSISTENT, text=f"nid-{user}")
            response = server.create_authn_response(
                identity, in_response_to=args.get("in_response_to", authn.id),
                destination=args.get("destination", acs),
                sp_entity_id=args.get("audience", sp_entity), name_id=name_id,
                authn={"class_ref": saml.AUTHN_PASSWORD, "authn_auth": self.base},
                sign_assertion=sign in ("assertion", "both"),
                sign_response=sign in ("response", "both"),
                **({"sign_alg": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                    "digest_alg": "http://www.w3.org/2000/09/xmldsig#sha1"}
                   if args.get("alg") == "sha1" else {}))
            info = server.apply_binding(BINDING_HTTP_POST, str(response), acs,
                                        relay_state=args.get("RelayState", ""),
                                        response=True)
        body = info["data"]
        return Response(body if isinstance(body, str) else "".join(body), mimetype="text/html")


@dataclass(frozen=True)
class Idp:
    url: str
    app: IdpApp

    @property
    def metadata(self) -> str:
        return requests.get(f"{self.url}/metadata", timeout=10).text

    def settings(self, name: str = "corp", **extra: str) -> dict[str, str]:
        """Directus-style settings of a ``saml`` provider using this IdP."""
        prefix = f"AUTH_{name.upper()}_"
        base = {"DRIVER": "saml", "IDP_metadata": self.metadata,
                "ALLOW_PUBLIC_REGISTRATION": "true", **extra}
        return {"AUTH_PROVIDERS": name, **{prefix + k: v for k, v in base.items()}}


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    app = IdpApp(tmp_path_factory.mktemp("saml-idp"))
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    app.setup(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield Idp(app.base, app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"', re.I)
FORM_INPUT = re.compile(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


@dataclass(frozen=True)
class Posted:
    """The form the IdP answered: where it posts, and what."""

    action: str
    fields: dict[str, str]


class Browser(RedirectBrowser):
    """One user agent (see :class:`RedirectBrowser`) walking the SAML flow: our start
    route, the IdP's form, the POST of its answer to our ACS."""

    def post_form(self, url: str, fields: dict[str, str]) -> tuple[int, dict[str, str], Any, Any]:
        """One form POST to Transom (the ACS), as the browser sends the IdP's form."""
        if self.client is not None:
            path = urlsplit(url)
            resp = self.client.post(path.path, data=fields,
                                    headers={"Origin": "null"})
            return resp.status_code, dict(resp.headers), resp.get_json(silent=True), resp
        resp = self.http.post(self._full(url), data=fields, allow_redirects=False, timeout=30)
        return resp.status_code, dict(resp.headers), response_json(resp), resp

    def start(self, provider: str = "corp", redirect: str | None = None) -> str:
        """Our start route; the IdP URL it redirects to. Our SP metadata, as our metadata
        route serves it, is registered with that IdP first."""
        url = f"/auth/login/{provider}"
        if redirect:
            url += "?" + urlencode({"redirect": redirect})
        status, headers, body, _ = self.get(url)
        assert status == 302, body
        location = headers["Location"]
        status, _, _, resp = self.get(f"/auth/login/{provider}/metadata")
        assert status == 200
        xml = resp.get_data(as_text=True) if self.client is not None else resp.text
        idp = urlsplit(location)
        put = self.http.put(f"{idp.scheme}://{idp.netloc}/sp", data=xml.encode(), timeout=30)
        assert put.status_code == 204, put.text
        return location

    def at_idp(self, location: str, **knobs: str) -> Posted:
        """Log in at the IdP (``user=...`` and misbehaviours as query parameters)."""
        url = location + ("&" if "?" in location else "?") + urlencode(knobs)
        resp = self.http.get(url, allow_redirects=False, timeout=30)
        assert resp.status_code == 200, resp.text
        action = FORM_ACTION.search(resp.text)
        assert action is not None, resp.text
        fields = {k: html.unescape(v) for k, v in FORM_INPUT.findall(resp.text)}
        assert "SAMLResponse" in fields, resp.text
        return Posted(html.unescape(action.group(1)), fields)

    def login(self, provider: str = "corp", redirect: str | None = None, **knobs: str
              ) -> tuple[int, dict[str, str], Any, Any]:
        posted = self.at_idp(self.start(provider, redirect), **knobs)
        return self.post_form(posted.action, posted.fields)


@pytest.fixture
def browser_cls() -> type[Browser]:
    return Browser
