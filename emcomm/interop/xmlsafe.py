"""Hardened XML in: every CAP / CoT document from outside is parsed here and only here.

Owns the refusal of hostile or broken XML: documents over a size limit, DTDs (and so
entity-expansion "billion laughs" and external entities), invalid XML, and a root element
in the wrong namespace. Parsing uses defusedxml; schema validation uses lxml on a
document that has already passed defusedxml, with network access and entities off.
It must not know what a CAP or CoT element means.

Example
-------
>>> root = parse_xml(b"<a xmlns='urn:x'><b>1</b></a>", "doc", expect_root="{urn:x}a")
>>> root.find("{urn:x}b").text
'1'
>>> try:
...     parse_xml(b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "doc")
... except InteropError as e:
...     print(str(e)[:41])
doc: refused: the document declares a DTD
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET

from emcomm.errors import InteropError

# A CAP alert with a detailed polygon is a few tens of KiB; 1 MiB leaves room and bounds memory.
MAX_DOCUMENT_BYTES = 1024 * 1024


def parse_xml(data: bytes, name: str, expect_root: str | None = None,
              max_bytes: int = MAX_DOCUMENT_BYTES) -> ET.Element:
    """Parse untrusted XML; InteropError naming ``name`` for anything refused.

    ``expect_root`` is the Clark name ``{namespace}local`` the root must have.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise InteropError(f"{name}: expected XML bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise InteropError(f"{name}: refused: document of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    if not data.strip():
        raise InteropError(f"{name}: empty document, expected XML")
    try:
        root = DET.fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise InteropError(f"{name}: refused: the document declares a DTD (entity expansion and external "
                           f"entities are not accepted); remove the <!DOCTYPE ...>") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as exc:
        raise InteropError(f"{name}: refused: the document uses entities ({exc}); they are not accepted") from None
    except DET.ParseError as exc:
        raise InteropError(f"{name}: not well-formed XML ({exc})") from None
    if expect_root is not None and root.tag != expect_root:
        raise InteropError(f"{name}: root element is {_show_tag(root.tag)}, expected {_show_tag(expect_root)}")
    return root


def _show_tag(tag: str) -> str:
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return f"<{local}> in namespace {ns!r}"
    return f"<{tag}> in no namespace"


class Schema:
    """An XSD loaded once, validating documents that already passed ``parse_xml``.

    >>> import os
    >>> Schema(os.devnull)
    Traceback (most recent call last):
    ...
    emcomm.errors.InteropError: schema /dev/null is not a usable XSD (...)
    """

    def __init__(self, path: str | Path):
        from lxml import etree

        self.path = Path(path)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            self._schema = etree.XMLSchema(etree.parse(str(self.path), parser))
        except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise InteropError(f"schema {self.path} is not a usable XSD ({exc})") from None
        self._parser = parser

    def errors(self, data: bytes) -> list[str]:
        """Schema violations of ``data`` as ``line N: message`` (empty when valid)."""
        from lxml import etree

        try:
            doc = etree.fromstring(bytes(data), self._parser)
        except etree.XMLSyntaxError as exc:
            return [f"not well-formed XML ({exc})"]
        if self._schema.validate(doc):
            return []
        return [f"line {e.line}: {e.message}" for e in self._schema.error_log]

    def check(self, data: bytes, name: str) -> None:
        """InteropError listing the first violations when ``data`` does not validate."""
        errs = self.errors(data)
        if errs:
            more = f" (and {len(errs) - 3} more)" if len(errs) > 3 else ""
            raise InteropError(f"{name}: does not validate against {self.path.name}: " + "; ".join(errs[:3]) + more)
