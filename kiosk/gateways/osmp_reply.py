"""Reading an OSMP reply: a clean <response> document, or a reason why it is not one (never a decline).

Real providers' frontends send things that are not OSMP replies with HTTP 200: a proxy's HTML error page, the
reply after a blank line (a PHP include that printed one), Windows-1251 text with no encoding declared. Each is
refused here with a reason that names what was wrong, so the attempt's message tells support what happened.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from kiosk.gateways.transport import Lost

HTML = re.compile(rb"^\s*(<!doctype\s+html|<html)", re.IGNORECASE)
TITLE = re.compile(rb"<title>(.{0,80}?)</title>", re.IGNORECASE | re.DOTALL)
DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*encoding=", re.IGNORECASE)
# a provider's comment that is only an acknowledgement says nothing to show the payer
ACKNOWLEDGEMENT = re.compile(r"(ok|success|успешно|accepted)[\s.!]*(\(.*\))?", re.IGNORECASE)


def why_not_xml(body: bytes) -> str:
    """A reason a body is not a well-formed OSMP document, for the bodies real frontends send; "" if none."""
    if HTML.match(body):
        title = TITLE.search(body)
        shown = title.group(1).decode("utf-8", "replace").strip() if title else "no title"
        return f"HTTP 200 with an HTML page ({shown!r}), not an OSMP reply"
    if body[:1].isspace() and body.lstrip().startswith(b"<?xml"):
        return "blank line before the <?xml declaration: not a well-formed XML document"
    if not DECLARED_ENCODING.match(body):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return "reply is not UTF-8 and declares no encoding (Windows-1251 without a declaration?)"
    return ""


def parse(body: bytes) -> Element:
    """The <response> element with a numeric <result>; anything else raises Lost with the reason."""
    reason = why_not_xml(body)
    if reason:
        raise Lost(reason)
    try:
        root: Element = fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise Lost(f"unusable XML reply ({type(exc).__name__}: {str(exc)[:80]})") from exc
    if root.tag != "response" or not (root.findtext("result") or "").strip().isdigit():
        raise Lost("reply is not an OSMP <response> with a numeric <result>")
    return root


def result(root: Element) -> tuple[int, str]:
    """(result code, comment)."""
    return int((root.findtext("result") or "").strip()), (root.findtext("comment") or "").strip()


def details(root: Element) -> dict[str, str]:
    """What the provider tells the payer: <fields><field1 name="FIO">…</field1>… (unnamed: disp1…dispN) and
    the <comment> when it says more than "OK"."""
    out: dict[str, str] = {}
    container = root.find("fields")
    if container is not None:
        for index, item in enumerate(container, 1):
            out[item.get("name") or f"disp{index}"] = (item.text or "").strip()
    comment = (root.findtext("comment") or "").strip()
    if comment and not ACKNOWLEDGEMENT.fullmatch(comment):
        out.setdefault("comment", comment)
    return out
