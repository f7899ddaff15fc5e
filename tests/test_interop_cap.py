"""CAP 1.2: exported alerts validate against the OASIS schema, import round-trips,
hostile or broken documents are refused with clear errors, and the compact form fits
one Beidou short message."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import InteropError
from emcomm.interop import cap
from emcomm.interop.xmlsafe import MAX_DOCUMENT_BYTES, Schema, parse_xml
from emcomm.links.profiles import LinkKind, default_profile
from emcomm.node import wire
from emcomm.priority import Priority

DATA = Path(__file__).parent / "data"
CAP_XSD = Schema(DATA / "cap" / "CAP-v1.2.xsd")

ZHENGZHOU = cap.CapAlert(
    identifier="emcomm-zz-0001", sender="cc@emcomm.zhengzhou", sent="2021-07-20T17:30:00+08:00",
    event="Flood", category="Met", urgency="Immediate", severity="Extreme", certainty="Observed",
    headline="Metro Line 5 tunnel flooding near Shakoulu station",
    description="Water entering the Line 5 tunnel between Haitansi and Shakoulu; passengers trapped in a train.",
    instruction="Rescue teams to Shakoulu exit A; evacuate passengers along the tunnel walkway.",
    sender_name="Zhengzhou flood command centre", expires="2021-07-20T23:30:00+08:00",
    areas=(cap.CapArea("Shakoulu station", polygons=(
        ((34.7752, 113.6281), (34.7760, 113.6350), (34.7701, 113.6362), (34.7695, 113.6290), (34.7752, 113.6281)),),
        circles=((34.7728, 113.6320, 0.8),)),))


def test_exported_alert_validates_against_the_cap_1_2_schema() -> None:
    CAP_XSD.check(cap.to_xml(ZHENGZHOU), "exported alert")


def test_schema_catches_an_alert_that_breaks_it() -> None:
    bad = cap.to_xml(ZHENGZHOU).replace(b"<status>Exercise</status>", b"").replace(
        b"<severity>Extreme</severity>", b"<severity>Catastrophic</severity>")
    errs = CAP_XSD.errors(bad)
    assert any("severity" in e for e in errs)
    with pytest.raises(InteropError, match="does not validate against CAP-v1.2.xsd"):
        CAP_XSD.check(bad, "x")


def test_import_gives_back_what_was_exported() -> None:
    assert cap.from_xml(cap.to_xml(ZHENGZHOU)) == ZHENGZHOU


def test_extreme_immediate_alert_travels_as_flash() -> None:
    assert cap.priority_of(ZHENGZHOU) is Priority.FLASH


def test_compact_cap_in_a_wire_frame_fits_one_beidou_message() -> None:
    body = cap.encode_compact(ZHENGZHOU)
    env = wire.make_envelope(b"\x01" * 16, "cc", "*", Priority.FLASH, wire.ContentType.ALERT, 0.0, 3600.0, body)
    frame = wire.encode(env)
    xml = cap.to_xml(ZHENGZHOU)
    beidou_bytes = default_profile(LinkKind.BEIDOU_RDSS).mtu_bytes
    assert len(frame) <= beidou_bytes < len(xml) * 2
    assert len(body) < len(xml) / 2                       # the compact form is at least half the XML
    assert cap.decode_compact(wire.decode(frame).payload()) == ZHENGZHOU


_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x9FFF, blacklist_categories=("Cs",)),
                max_size=40).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(event=_text.filter(bool), headline=_text, lat=st.floats(-89, 89), lon=st.floats(-179, 179),
       r=st.floats(0, 100), sev=st.sampled_from(cap.SEVERITY), urg=st.sampled_from(cap.URGENCY))
def test_any_alert_survives_xml_and_compact_round_trips(event, headline, lat, lon, r, sev, urg) -> None:
    a = cap.CapAlert("id-1", "s@x", "2021-07-20T17:30:00+08:00", event, urg, sev, "Likely", headline=headline,
                     areas=(cap.CapArea("a", circles=((round(lat, 5), round(lon, 5), round(r, 3)),)),))
    xml = cap.to_xml(a)
    assert CAP_XSD.errors(xml) == []
    assert cap.from_xml(xml) == a
    assert cap.decode_compact(cap.encode_compact(a)) == a


# ----------------------------------------------------------------------------- refusals
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""


@pytest.mark.parametrize("doc,message", [
    (BILLION_LAUGHS, "declares a DTD"),
    (EXTERNAL_ENTITY, "declares a DTD"),
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</alert>", "not well-formed XML"),
    (b"", "empty document"),
    (cap.to_xml(ZHENGZHOU).replace(b"emergency:cap:1.2", b"emergency:cap:1.1"),
     "namespace 'urn:oasis:names:tc:emergency:cap:1.1', expected <alert> in namespace 'urn:oasis:names:tc:emergency:cap:1.2'"),
    (cap.to_xml(ZHENGZHOU).replace(b' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', b""), "in no namespace"),
    (cap.to_xml(ZHENGZHOU).replace(b"<event>Flood</event>", b""), "missing required <event>"),
    (cap.to_xml(ZHENGZHOU).replace(b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>"),
     "urgency 'Now' is not one of"),
    (cap.to_xml(ZHENGZHOU).replace(b"34.7752,113.6281 ", b"34.7752;113.6281 ", 1), "is not a 'lat,lon' pair"),
    (cap.to_xml(ZHENGZHOU).replace(b"2021-07-20T17:30:00+08:00", b"2021-07-20 17:30"), "must look like"),
])
def test_bad_documents_are_refused_with_a_clear_error(doc: bytes, message: str) -> None:
    with pytest.raises(InteropError) as exc:
        cap.from_xml(doc, "alert.xml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("alert.xml") or "CAP" in str(exc.value)


def test_oversized_document_is_refused_before_parsing() -> None:
    big = cap.to_xml(ZHENGZHOU).replace(b"<description>", b"<description>" + b"x" * MAX_DOCUMENT_BYTES)
    with pytest.raises(InteropError, match=r"exceeds the limit of 1048576 bytes"):
        cap.from_xml(big, "big.xml")


def test_parse_refuses_non_bytes() -> None:
    with pytest.raises(InteropError, match="expected XML bytes"):
        parse_xml("<a/>", "doc")  # type: ignore[arg-type]


@settings(max_examples=150)
@given(st.binary(max_size=300))
def test_random_compact_bodies_raise_only_interop_error(data: bytes) -> None:
    try:
        cap.decode_compact(data)
    except InteropError:
        pass


def test_compressed_compact_bomb_is_refused() -> None:
    import zlib
    with pytest.raises(InteropError, match="size limit|malformed"):
        cap.decode_compact(b"\x81" + zlib.compress(b"\x00" * (1 << 22)))
