"""A throw-away SAML 2.0 identity provider for Rampart's user-provider tests.

pysaml2's SAML object model (pinned in requirements.txt) builds the messages and Debian's
xmlsec1 signs them; this module is the identity provider around them: metadata, the
HTTP-Redirect SSO endpoint (signed requests verified), a login form that plain HTTP requests
can drive, the HTTP-POST answer with a signed Response and a signed Assertion (RSA-SHA256),
and an admin API that produces the bad responses a service provider must refuse, and encrypts
assertions (xmlsec1) to the SP's encryption certificate when asked. Started by
scripts/peers/saml.sh; docs/peers.md describes the requests.

Configuration (environment):
  SAML_DIR          working directory: tls/{cert,key}.pem (HTTPS), idp/{cert,key}.pem (signing),
                    other/{cert,key}.pem (a key nobody trusts), secrets/admin-token,
                    passwords/<user> (required)
  SAML_READY_FILE   written with {"port": N, "base": …} once listening (required)
  SAML_PORT         port (default 0: any free port)
  SAML_SP_METADATA  SP metadata files to trust from the start, space-separated (optional; tests
                    usually PUT theirs to /admin/sp-metadata once their server has a port)
  SAML_WANT_AUTHN_REQUESTS_SIGNED  1: refuse unsigned AuthnRequests from every SP (default:
                    only from SPs whose metadata says AuthnRequestsSigned="true")
  SAML_EXIT_ON_STDIN_EOF  exit when standard input ends (the script holds it open)
"""

import base64
import datetime
import hmac
import html
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp
from saml2.sigver import CryptoBackendXmlSec1, pre_signature_part
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
import saml2.xmldsig as ds

DIR = os.environ["SAML_DIR"]
READY_FILE = os.environ["SAML_READY_FILE"]
XMLSEC = os.environ.get("SAML_XMLSEC1", "/usr/bin/xmlsec1")
WANT_SIGNED = os.environ.get("SAML_WANT_AUTHN_REQUESTS_SIGNED") == "1"

ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
RESPONSE = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
REDIRECT_SIG_ALGS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512(),
}
LIFETIME = 300  # seconds an assertion is valid for


def path(*parts):
    return os.path.join(DIR, *parts)


def read(*parts):
    with open(path(*parts), encoding="utf-8") as f:
        return f.read().rstrip("\n")


def pem_body(pem):
    return "".join(line for line in pem.splitlines() if "-----" not in line)


crypto = CryptoBackendXmlSec1(XMLSEC)
KEYS = {
    "idp": (path("idp", "key.pem"), pem_body(read("idp", "cert.pem"))),
    "other": (path("other", "key.pem"), pem_body(read("other", "cert.pem"))),
}

# Users: NameIDs (persistent format) are fixed opaque identifiers, not the user names.
USERS = {
    "alice": {
        "name_id": "f0a1c2e3-alice-4b5c-8d9e-000000000a01",
        "email": "alice@rampart.test",
        "displayName": "Alice Example",
        "groups": ["rampart-admins"],
    },
    "bob": {
        "name_id": "b0b1c2e3-bob0-4b5c-8d9e-000000000b02",
        "email": "bob@rampart.test",
        "displayName": "Bob Builder",
        "groups": ["sales"],
    },
}
STATE_LOCK = threading.Lock()
SPS = {}  # entity id -> {"acs": [(binding, url, index, is_default)], "certs": [...], "signed": bool}
PENDING = {}  # login key -> the AuthnRequest's particulars
LAST = {}  # the last response delivered by the login flow (for replay)


NSPAIR = {
    "samlp": samlp.NAMESPACE,
    "saml": saml.NAMESPACE,
    "md": md.NAMESPACE,
    "ds": ds.NAMESPACE,
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}


def xml_of(element):
    """An element serialized with the usual prefixes (samlp:, saml:, ds:), no XML declaration."""
    text = element.to_string(nspair=NSPAIR).decode("utf-8")
    return re.sub(r"^<\?xml[^>]*>\s*", "", text)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def new_id():
    return "_" + secrets.token_hex(16)


# --------------------------------------------------------------------------------------------
# Service providers, from their metadata.
def register_sp_metadata(xml):
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    descriptors = []
    entity = md.entity_descriptor_from_string(text)
    if entity is not None and entity.entity_id:
        descriptors.append(entity)
    else:
        entities = md.entities_descriptor_from_string(text)
        if entities is None:
            raise ValueError("not SAML metadata (no EntityDescriptor or EntitiesDescriptor)")
        descriptors.extend(entities.entity_descriptor)
    registered = []
    for entity in descriptors:
        for sp in entity.spsso_descriptor:
            acs = [
                (a.binding, a.location, int(a.index or 0), (a.is_default or "").lower() == "true")
                for a in sp.assertion_consumer_service
            ]
            certs = []
            enc_certs = []
            for kd in sp.key_descriptor:
                if kd.use not in (None, "signing", "encryption"):
                    continue
                for data in kd.key_info.x509_data:
                    body = re.sub(r"\s+", "", data.x509_certificate.text)
                    cert = x509.load_der_x509_certificate(base64.b64decode(body))
                    if kd.use in (None, "encryption"):
                        enc_certs.append(cert)
                    if kd.use in (None, "signing"):
                        certs.append(cert)
            info = {
                "acs": acs,
                "certs": certs,
                "enc_certs": enc_certs,
                "signed": (sp.authn_requests_signed or "").lower() == "true",
                "want_assertions_signed": (sp.want_assertions_signed or "").lower() == "true",
            }
            with STATE_LOCK:
                SPS[entity.entity_id] = info
            registered.append(
                {
                    "entity_id": entity.entity_id,
                    "acs": [a[1] for a in acs if a[0] == BINDING_HTTP_POST],
                    "authn_requests_signed": info["signed"],
                    "signing_certificates": len(certs),
                    "encryption_certificates": len(enc_certs),
                }
            )
    if not registered:
        raise ValueError("no SPSSODescriptor in the metadata")
    return registered


def default_acs(sp):
    posts = [a for a in sp["acs"] if a[0] == BINDING_HTTP_POST]
    if not posts:
        raise ValueError("the SP has no HTTP-POST AssertionConsumerService")
    for a in posts:
        if a[3]:
            return a[1]
    return sorted(posts, key=lambda a: a[2])[0][1]


# --------------------------------------------------------------------------------------------
# Our metadata.
def metadata_xml(base):
    def key_descriptor(cert):
        return md.KeyDescriptor(
            use="signing",
            key_info=ds.KeyInfo(x509_data=[ds.X509Data(x509_certificate=ds.X509Certificate(text=cert))]),
        )

    idp = md.IDPSSODescriptor(
        protocol_support_enumeration=samlp.NAMESPACE,
        want_authn_requests_signed="true" if WANT_SIGNED else "false",
        key_descriptor=[key_descriptor(KEYS["idp"][1])],
        name_id_format=[
            md.NameIDFormat(text=saml.NAMEID_FORMAT_PERSISTENT),
            md.NameIDFormat(text=saml.NAMEID_FORMAT_EMAILADDRESS),
            md.NameIDFormat(text=saml.NAMEID_FORMAT_TRANSIENT),
        ],
        single_sign_on_service=[
            md.SingleSignOnService(binding=BINDING_HTTP_REDIRECT, location=f"{base}/sso/redirect"),
        ],
    )
    entity = md.EntityDescriptor(entity_id=f"{base}/metadata", idpsso_descriptor=idp)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_of(entity)


# --------------------------------------------------------------------------------------------
# Responses.
def attribute(name, values):
    return saml.Attribute(
        name=name,
        name_format=saml.NAME_FORMAT_BASIC,
        attribute_value=[saml.AttributeValue(text=v) for v in values],
    )


def build_assertion(ctx, user, *, now, issuer, audience, recipient, not_before, not_on_or_after,
                    scd_not_on_or_after, attrs, sign):
    u = USERS[user]
    fmt = ctx.get("name_id_format") or saml.NAMEID_FORMAT_PERSISTENT
    if fmt == saml.NAMEID_FORMAT_EMAILADDRESS:
        name_id_text = attrs["email"][0]
    elif fmt == saml.NAMEID_FORMAT_TRANSIENT:
        name_id_text = new_id()
    else:
        fmt = saml.NAMEID_FORMAT_PERSISTENT
        name_id_text = u["name_id"]
    assertion = saml.Assertion(
        id=new_id(),
        version="2.0",
        issue_instant=iso(now),
        issuer=saml.Issuer(text=issuer, format=saml.NAMEID_FORMAT_ENTITY),
        subject=saml.Subject(
            name_id=saml.NameID(format=fmt, text=name_id_text, sp_name_qualifier=ctx["sp"]),
            subject_confirmation=[
                saml.SubjectConfirmation(
                    method=saml.SCM_BEARER,
                    subject_confirmation_data=saml.SubjectConfirmationData(
                        in_response_to=ctx.get("in_response_to"),
                        recipient=recipient,
                        not_on_or_after=iso(scd_not_on_or_after),
                    ),
                )
            ],
        ),
        conditions=saml.Conditions(
            not_before=iso(not_before),
            not_on_or_after=iso(not_on_or_after),
            audience_restriction=[saml.AudienceRestriction(audience=[saml.Audience(text=audience)])],
        ),
        authn_statement=[
            saml.AuthnStatement(
                authn_instant=iso(now),
                session_index=new_id(),
                authn_context=saml.AuthnContext(
                    authn_context_class_ref=saml.AuthnContextClassRef(text=PASSWORD_PROTECTED)
                ),
            )
        ],
        attribute_statement=[
            saml.AttributeStatement(attribute=[attribute(k, v) for k, v in attrs.items()])
        ],
    )
    if sign:
        assertion.signature = pre_signature_part(
            assertion.id, KEYS[sign][1], digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256
        )
    return assertion


def user_attributes(user):
    u = USERS[user]
    return {"email": [u["email"]], "displayName": [u["displayName"]], "groups": list(u["groups"])}


def sign(xml, node_name, node_id, key):
    return crypto.sign_statement(xml, node_name, KEYS[key][0], node_id)


# --------------------------------------------------------------------------------------------
# Encrypted assertions (xmlsec1 --encrypt: the session key wrapped for the SP's certificate).
DATA_ALGS = {  # name -> (Algorithm, xmlsec1's session key)
    "aes128-cbc": ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
}
KEY_ALGS = {
    "rsa-oaep-mgf1p": "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "rsa-1_5": "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
}
ENCRYPTED_DATA_TEMPLATE = (
    '<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" '
    'Type="http://www.w3.org/2001/04/xmlenc#Element">'
    '<xenc:EncryptionMethod Algorithm="{data}"/>'
    '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>'
    '<xenc:EncryptionMethod Algorithm="{key}"/>'
    "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
    "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
)
ENCRYPTED_XPATH = "".join(f"/*[local-name()='{n}']" for n in ("Response", "EncryptedAssertion", "Assertion"))


def encryption_certificate_pem(ctx, to):
    """The PEM certificate to encrypt to: the SP's (from its metadata) or the other key's."""
    if to == "other":
        return read("other", "cert.pem").encode("ascii") + b"\n"
    if to != "sp":
        raise ValueError(f"encrypt.to must be sp or other, not {to!r}")
    with STATE_LOCK:
        sp = SPS.get(ctx["sp"])
        certs = list(sp["enc_certs"]) if sp else []
    if not certs:
        raise ValueError('the SP\'s metadata has no encryption certificate (KeyDescriptor use="encryption")')
    return certs[0].public_bytes(serialization.Encoding.PEM)


def encrypt_assertion(xml, ctx, spec):
    """The document with its one saml:Assertion replaced by a saml:EncryptedAssertion, as
    `spec` says: data (aes128-gcm, aes256-gcm, aes128-cbc, aes256-cbc), key (rsa-oaep-mgf1p,
    rsa-1_5), to (sp: the SP's encryption certificate, other: a key the SP does not hold)."""
    data = spec.get("data", "aes128-gcm")
    key = spec.get("key", "rsa-oaep-mgf1p")
    if data not in DATA_ALGS or key not in KEY_ALGS:
        raise ValueError(f"encrypt: data is one of {sorted(DATA_ALGS)}, key one of {sorted(KEY_ALGS)}")
    cert = encryption_certificate_pem(ctx, spec.get("to", "sp"))
    start = re.search(r"<saml:Assertion[\s>]", xml).start()
    end = xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    xml = xml[:start] + "<saml:EncryptedAssertion>" + xml[start:end] + "</saml:EncryptedAssertion>" + xml[end:]
    with tempfile.TemporaryDirectory(dir=DIR) as tmp:
        files = {
            "data.xml": xml.encode("utf-8"),
            "template.xml": ENCRYPTED_DATA_TEMPLATE.format(data=DATA_ALGS[data][0], key=KEY_ALGS[key]).encode("utf-8"),
            "cert.pem": cert,
        }
        for name, content in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(content)
        out = os.path.join(tmp, "out.xml")
        run = subprocess.run(
            [XMLSEC, "--encrypt", "--pubkey-cert-pem", os.path.join(tmp, "cert.pem"),
             "--session-key", DATA_ALGS[data][1], "--xml-data", os.path.join(tmp, "data.xml"),
             "--node-xpath", ENCRYPTED_XPATH, "--output", out, os.path.join(tmp, "template.xml")],
            capture_output=True, check=False,
        )
        if run.returncode != 0:
            raise ValueError(f"xmlsec1 --encrypt failed: {run.stderr.decode(errors='replace')[-500:]}")
        with open(out, encoding="utf-8") as f:
            encrypted = f.read()
    return re.sub(r"^<\?xml[^>]*>\s*", "", encrypted)


def tamper_ciphertext(xml):
    """One bit of the encrypted assertion's data flipped (its last CipherValue, past the IV)."""
    values = list(re.finditer(r"(<xenc:CipherValue>)([^<]*)(</xenc:CipherValue>)", xml))
    if not values:
        raise ValueError("no encrypted assertion to tamper with")
    m = values[-1]
    raw = bytearray(base64.b64decode(re.sub(r"\s+", "", m.group(2))))
    raw[len(raw) // 2] ^= 0x01
    return xml[:m.start(2)] + base64.b64encode(bytes(raw)).decode("ascii") + xml[m.end(2):]


def build_response(ctx, user, case="valid", opts=None):
    """The base64 SAMLResponse for ctx (sp, acs, in_response_to) and user, made bad as `case`
    says. Returns (xml, base64)."""
    opts = opts or {}
    seconds = int(opts.get("seconds", 0))
    now = utcnow()
    clock = now
    if case == "skewed":  # an identity provider whose clock is `seconds` off (any sign)
        clock = now + datetime.timedelta(seconds=seconds)
    issuer = ctx["issuer"]
    if case == "wrong-issuer":
        issuer = opts.get("issuer", "https://idp.invalid/metadata")
    attrs = user_attributes(user)
    for k, v in (opts.get("attributes") or {}).items():
        attrs[k] = v if isinstance(v, list) else [v]
    not_before = clock - datetime.timedelta(seconds=30)
    not_on_or_after = clock + datetime.timedelta(seconds=LIFETIME)
    scd_not_on_or_after = not_on_or_after
    if case == "expired":  # NotOnOrAfter `seconds` (default 60) ago; all else as usual
        not_on_or_after = now - datetime.timedelta(seconds=seconds or 60)
        not_before = not_on_or_after - datetime.timedelta(seconds=LIFETIME)
        scd_not_on_or_after = not_on_or_after
    if case == "not-yet-valid":  # NotBefore `seconds` (default 120) ahead; all else as usual
        not_before = now + datetime.timedelta(seconds=seconds or 120)
    audience = ctx["sp"] if case != "wrong-audience" else opts.get("audience", "https://sp.invalid/metadata")
    recipient = ctx["acs"] if case != "wrong-recipient" else opts.get("recipient", "https://sp.invalid/acs")
    destination = ctx["acs"] if case != "wrong-destination" else opts.get("destination", "https://sp.invalid/acs")
    in_response_to = ctx.get("in_response_to")
    if case == "wrong-in-response-to":
        in_response_to = new_id()
    actx = dict(ctx, in_response_to=in_response_to)

    key = "other" if case == "other-key" else "idp"
    sign_assertion = case not in ("unsigned", "response-only-signed")
    sign_response = case not in ("unsigned", "assertion-only-signed", "wrapped")
    assertion = build_assertion(
        actx, user, now=clock, issuer=issuer, audience=audience, recipient=recipient,
        not_before=not_before, not_on_or_after=not_on_or_after,
        scd_not_on_or_after=scd_not_on_or_after, attrs=attrs,
        sign=key if sign_assertion else None,
    )
    response = samlp.Response(
        id=new_id(),
        version="2.0",
        issue_instant=iso(clock),
        destination=destination,
        in_response_to=in_response_to,
        issuer=saml.Issuer(text=issuer, format=saml.NAMEID_FORMAT_ENTITY),
        status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
        assertion=assertion,
    )
    if sign_response:
        response.signature = pre_signature_part(
            response.id, KEYS[key][1], digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256
        )
    xml = xml_of(response)
    if sign_assertion:
        xml = sign(xml, ASSERTION, assertion.id, key)
    encrypt = opts.get("encrypt")
    if encrypt is not None:
        # The assertion as made (signed or not) encrypted in its place; a signature of the
        # Response comes after, over the ciphertext.
        xml = encrypt_assertion(xml, ctx, encrypt if isinstance(encrypt, dict) else {})
    if case == "wrapped":
        # Signature wrapping: the signed assertion (for `user`) stays as it is and still
        # verifies; an unsigned assertion for `as` (default alice, with her attributes) is put
        # before it, where a verifier that checks "a valid signature is present" and then reads
        # the first Assertion would take it. The Response is left unsigned (a signature over it
        # would no longer verify); its only Signature is the genuine assertion's.
        evil_user = opts.get("as", "alice")
        evil = build_assertion(
            actx, evil_user, now=clock, issuer=issuer, audience=audience, recipient=recipient,
            not_before=not_before, not_on_or_after=not_on_or_after,
            scd_not_on_or_after=scd_not_on_or_after, attrs=user_attributes(evil_user), sign=None,
        )
        start = re.search(r"<(?:\w+:)?(?:Encrypted)?Assertion[\s>]", xml).start()
        xml = xml[:start] + xml_of(evil) + xml[start:]
    if sign_response:
        xml = sign(xml, RESPONSE, response.id, key)
    if case == "tampered":
        # After signing, the email and groups change to those of `as` (default alice): both
        # digests no longer match.
        evil = user_attributes(opts.get("as", "alice"))
        xml = replace_attribute(xml, "email", evil["email"][0])
        xml = replace_attribute(xml, "groups", evil["groups"][0])
    if isinstance(encrypt, dict) and encrypt.get("tamper"):
        xml = tamper_ciphertext(xml)
    return xml, base64.b64encode(xml.encode("utf-8")).decode("ascii")


def replace_attribute(xml, name, value):
    pattern = re.compile(
        r'(<(?P<p>[\w]+:)?Attribute [^>]*Name="%s"[^>]*>\s*<(?:[\w]+:)?AttributeValue[^>]*>)[^<]*' % re.escape(name)
    )
    out, n = pattern.subn(lambda m: m.group(1) + html.escape(value), xml, count=1)
    if not n:
        raise ValueError(f"no attribute {name} to tamper with")
    return out


CASES = [
    "valid", "tampered", "wrapped", "expired", "not-yet-valid", "skewed", "wrong-audience",
    "wrong-recipient", "wrong-destination", "wrong-issuer", "wrong-in-response-to", "unsigned",
    "assertion-only-signed", "response-only-signed", "other-key",
]


# --------------------------------------------------------------------------------------------
# The HTTP-Redirect binding.
def parse_redirect(raw_query):
    """The AuthnRequest of an HTTP-Redirect query, its signature checked against the SP's
    metadata. Returns the login context or raises ValueError with the reason."""
    raw = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k = urllib.parse.unquote_plus(k)
        if k in raw:
            raise ValueError(f"duplicate parameter {k}")
        raw[k] = v
    if "SAMLRequest" not in raw:
        raise ValueError("no SAMLRequest parameter")
    value = lambda k: urllib.parse.unquote_plus(raw[k]) if k in raw else None  # noqa: E731
    try:
        xml = zlib.decompress(base64.b64decode(value("SAMLRequest"), validate=True), -15).decode("utf-8")
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"SAMLRequest is not base64 of DEFLATE data: {err}") from err
    request = samlp.authn_request_from_string(xml)
    if request is None:
        raise ValueError("SAMLRequest is not an AuthnRequest")
    sp_id = request.issuer.text.strip() if request.issuer is not None and request.issuer.text else None
    with STATE_LOCK:
        sp = SPS.get(sp_id)
    if sp is None:
        raise ValueError(f"unknown service provider {sp_id!r} (PUT its metadata to /admin/sp-metadata)")
    # The signature is over the parameters exactly as they were sent, in this order.
    if "Signature" in raw or "SigAlg" in raw:
        sig_alg = value("SigAlg")
        if sig_alg not in REDIRECT_SIG_ALGS:
            raise ValueError(f"unsupported SigAlg {sig_alg!r}")
        signed = "&".join(f"{k}={raw[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg") if k in raw)
        signature = base64.b64decode(value("Signature") or "")
        for cert in sp["certs"]:
            try:
                cert.public_key().verify(signature, signed.encode("ascii"), padding.PKCS1v15(), REDIRECT_SIG_ALGS[sig_alg])
                break
            except (InvalidSignature, ValueError, TypeError):
                continue
        else:
            raise ValueError("the AuthnRequest's signature does not verify with the SP's signing certificates")
        signed_ok = True
    else:
        signed_ok = False
    if (sp["signed"] or WANT_SIGNED) and not signed_ok:
        raise ValueError("the AuthnRequest must be signed (SigAlg and Signature parameters)")
    if request.destination and request.destination != BASE + "/sso/redirect":
        raise ValueError(f"Destination {request.destination!r} is not this endpoint")
    posts = [a for a in sp["acs"] if a[0] == BINDING_HTTP_POST]
    if request.assertion_consumer_service_url:
        acs = request.assertion_consumer_service_url
        if acs not in [a[1] for a in posts]:
            raise ValueError(f"AssertionConsumerServiceURL {acs!r} is not in the SP's metadata")
    elif request.assertion_consumer_service_index is not None:
        match = [a for a in posts if a[2] == int(request.assertion_consumer_service_index)]
        if not match:
            raise ValueError("no AssertionConsumerService with that index")
        acs = match[0][1]
    else:
        acs = default_acs(sp)
    if request.protocol_binding and request.protocol_binding != BINDING_HTTP_POST:
        raise ValueError(f"ProtocolBinding {request.protocol_binding!r} is not supported (HTTP-POST only)")
    fmt = None
    if request.name_id_policy is not None and request.name_id_policy.format:
        fmt = request.name_id_policy.format
    return {
        "sp": sp_id,
        "acs": acs,
        "in_response_to": request.id,
        "relay_state": value("RelayState"),
        "name_id_format": fmt,
        "issuer": ENTITY_ID,
        "signed_request": signed_ok,
    }


def context_for(spec):
    """The login context of an admin request: from `request` (the redirect URL or its query)
    when given, else from `sp` (default: the only or last registered SP) and its default ACS."""
    if spec.get("request"):
        query = urllib.parse.urlsplit(spec["request"]).query or spec["request"]
        ctx = parse_redirect(query)
    else:
        with STATE_LOCK:
            sp_id = spec.get("sp") or (list(SPS)[-1] if SPS else None)
            sp = SPS.get(sp_id)
        if sp is None:
            raise ValueError("no such service provider (PUT its metadata to /admin/sp-metadata)")
        ctx = {"sp": sp_id, "acs": default_acs(sp), "in_response_to": spec.get("in_response_to"),
               "relay_state": spec.get("relay_state"), "name_id_format": spec.get("name_id_format"),
               "issuer": ENTITY_ID}
    if "relay_state" in spec:
        ctx["relay_state"] = spec["relay_state"]
    return ctx


# --------------------------------------------------------------------------------------------
def page(title, body):
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{body}</body></html>\n"
    )


def login_page(key, sp, error=None):
    err = f'<p id="error">{html.escape(error)}</p>' if error else ""
    return page(
        "Sign in",
        f"<h1>Sign in to {html.escape(sp)}</h1>{err}"
        '<form method="post" action="/sso/login">'
        f'<input type="hidden" name="key" value="{html.escape(key)}">'
        '<label>Username <input name="username" autocomplete="username" autofocus></label>'
        '<label>Password <input type="password" name="password" autocomplete="current-password"></label>'
        '<button type="submit">Sign in</button></form>',
    )


def post_page(acs, saml_response, relay_state):
    relay = (
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
        if relay_state is not None else ""
    )
    return page(
        "Signing in",
        f'<form method="post" action="{html.escape(acs)}" id="saml">'
        f'<input type="hidden" name="SAMLResponse" value="{saml_response}">{relay}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        '<script>document.getElementById("saml").submit()</script>',
    )


def check_password(user, given):
    if user not in USERS:
        hmac.compare_digest(given, secrets.token_hex(16))
        return False
    return hmac.compare_digest(given.encode(), read("passwords", user).encode())


class Handler(BaseHTTPRequestHandler):
    server_version = "rampart-test-saml-idp"
    protocol_version = "HTTP/1.1"

    def setup(self):
        # The TLS handshake here, in the connection's thread, not in accept().
        self.request.do_handshake()
        super().setup()

    def log_message(self, fmt, *args):
        if os.environ.get("SAML_DEBUG"):
            super().log_message(fmt, *args)

    def send(self, status, body, ctype="text/html; charset=utf-8"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def json(self, status, value):
        self.send(status, json.dumps(value, indent=1) + "\n", "application/json")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise ValueError("body too large")
        return self.rfile.read(n)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path.startswith("/admin/"):
                return self.admin(method, url.path)
            if method == "GET" and url.path == "/metadata":
                return self.send(200, metadata_xml(BASE), "application/samlmetadata+xml")
            if method == "GET" and url.path == "/sso/redirect":
                try:
                    ctx = parse_redirect(url.query)
                except ValueError as err:
                    return self.send(400, page("Bad request", f'<h1>Bad AuthnRequest</h1><p id="error">{html.escape(str(err))}</p>'))
                key = secrets.token_urlsafe(24)
                with STATE_LOCK:
                    PENDING[key] = ctx
                return self.send(200, login_page(key, ctx["sp"]))
            if method == "POST" and url.path == "/sso/login":
                return self.login()
            return self.send(404, page("Not found", "<h1>Not found</h1>"))
        except Exception as err:  # noqa: BLE001
            print(f"saml: {method} {url.path}: {err!r}", file=sys.stderr)
            return self.send(500, page("Error", "<h1>server error</h1>"))

    def login(self):
        form = urllib.parse.parse_qs(self.body().decode("utf-8"), keep_blank_values=True)
        get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        key = get("key")
        with STATE_LOCK:
            ctx = PENDING.get(key)
        if ctx is None:
            return self.send(400, page("Bad request", '<h1>Bad request</h1><p id="error">unknown or used login key</p>'))
        user = get("username")
        if not check_password(user, get("password")):
            return self.send(401, login_page(key, ctx["sp"], "Invalid username or password."))
        with STATE_LOCK:
            if PENDING.pop(key, None) is None:
                return self.send(400, page("Bad request", '<h1>Bad request</h1><p id="error">used login key</p>'))
        _, b64 = build_response(ctx, user)
        answer = {"acs_url": ctx["acs"], "SAMLResponse": b64, "RelayState": ctx.get("relay_state"), "case": "valid"}
        with STATE_LOCK:
            LAST.clear()
            LAST.update(answer)
        if "application/json" in (self.headers.get("Accept") or ""):
            return self.json(200, answer)
        return self.send(200, post_page(ctx["acs"], b64, ctx.get("relay_state")))

    def admin(self, method, route):
        peer = self.client_address[0]
        if peer not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            return self.json(403, {"error": "loopback only"})
        want = f"Bearer {read('secrets', 'admin-token')}".encode()
        if not hmac.compare_digest((self.headers.get("Authorization") or "").encode(), want):
            return self.json(401, {"error": "unauthorized"})
        body = self.body() if method != "GET" else b""
        if method == "PUT" and route == "/admin/sp-metadata":
            try:
                return self.json(200, register_sp_metadata(body))
            except Exception as err:  # noqa: BLE001
                return self.json(400, {"error": str(err)})
        spec = {}
        if body:
            try:
                spec = json.loads(body)
            except ValueError:
                return self.json(400, {"error": "body must be JSON"})
        if method == "GET" and route == "/admin/state":
            with STATE_LOCK:
                return self.json(200, {
                    "entity_id": ENTITY_ID,
                    "sps": {k: {"acs": [a[1] for a in v["acs"]], "authn_requests_signed": v["signed"]} for k, v in SPS.items()},
                    "users": USERS,
                    "cases": CASES,
                })
        if method == "POST" and route == "/admin/response":
            case = spec.get("case", "valid")
            if case == "replay":
                return self.last()
            if case not in CASES:
                return self.json(400, {"error": f"unknown case {case!r}", "cases": CASES + ["replay"]})
            user = spec.get("user", "bob" if case in ("wrapped", "tampered") else "alice")
            if user not in USERS:
                return self.json(400, {"error": f"no user {user!r}"})
            try:
                ctx = context_for(spec)
                _, b64 = build_response(ctx, user, case, spec)
            except ValueError as err:
                return self.json(400, {"error": str(err)})
            return self.json(200, {"acs_url": ctx["acs"], "SAMLResponse": b64, "RelayState": ctx.get("relay_state"), "case": case})
        if method == "GET" and route == "/admin/last-response":
            return self.last()
        m = re.fullmatch(r"/admin/users/(\w+)", route)
        if method == "PATCH" and m:
            with STATE_LOCK:
                u = USERS.get(m.group(1))
                if u is None:
                    return self.json(404, {"error": "no such user"})
                for k in ("email", "displayName", "groups"):
                    if k in spec:
                        u[k] = spec[k]
                return self.json(200, u)
        return self.json(404, {"error": f"no route {method} {route}"})

    def last(self):
        with STATE_LOCK:
            if not LAST:
                return self.json(404, {"error": "no response delivered yet"})
            return self.json(200, dict(LAST, case="replay"))


def main():
    global BASE, ENTITY_ID
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("SAML_PORT") or 0)), Handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(path("tls", "cert.pem"), path("tls", "key.pem"))
    server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    BASE = f"https://127.0.0.1:{port}"
    ENTITY_ID = f"{BASE}/metadata"
    for f in (os.environ.get("SAML_SP_METADATA") or "").split():
        with open(f, "rb") as fh:
            register_sp_metadata(fh.read())
    if os.environ.get("SAML_EXIT_ON_STDIN_EOF"):
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    with open(READY_FILE + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"port": port, "base": BASE, "entity_id": ENTITY_ID, "pid": os.getpid()}, f)
    os.replace(READY_FILE + ".tmp", READY_FILE)
    print(f"saml: listening on {BASE}", file=sys.stderr)
    server.serve_forever()


BASE = ENTITY_ID = None
if __name__ == "__main__":
    main()
