"""Loaders turn each format into text with pages and headings; bad files are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.errors import MissingExtra
from danlu.extras import require
from danlu.kb.errors import UnreadableDocument
from danlu.kb.loaders import load_document


def test_markdown_sections_keep_their_heading_path(corpus: Path):
    doc = load_document(corpus / "handbook.md")
    annual = next(b for b in doc.blocks if "25 days" in b.text)
    assert annual.headings == ("Northwind Staff Handbook", "Leave", "Annual leave")
    assert all(not b.text.startswith("#") for b in doc.blocks)


def test_html_keeps_content_and_drops_scripts_styles_and_navigation(corpus: Path):
    doc = load_document(corpus / "faq.html")
    text = doc.text
    assert "Forgot password" in text and "extension 4321" in text and "Northwind-Staff" in text
    for noise in ("SCRIPT_SHOULD", "secret-style", "NAVIGATION_MENU", "HEADER_BANNER", "FOOTER_"):
        assert noise not in text
    reset = next(b for b in doc.blocks if "Forgot password" in b.text)
    assert reset.headings == ("IT help desk FAQ", "How do I reset my password?")
    assert "the identity page and choose Forgot password" in reset.text  # inline tags inline


def test_pdf_text_is_kept_per_page(corpus: Path):
    doc = load_document(corpus / "policy.pdf")
    assert [b.page for b in doc.blocks] == [1, 2]
    assert "Frankfurt" in doc.blocks[0].text and "24 hours" in doc.blocks[1].text


def test_docx_headings_become_heading_paths(corpus: Path):
    doc = load_document(corpus / "security.docx")
    visitors = next(b for b in doc.blocks if "red visitor badge" in b.text)
    assert visitors.headings == ("Information security", "Visitors")


def test_gbk_text_is_detected_and_decoded(corpus: Path):
    raw = (corpus / "canteen_gbk.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "十五元的补贴" in load_document(corpus / "canteen_gbk.txt").text


def test_csv_and_jsonl_become_field_value_records(corpus: Path):
    offices = load_document(corpus / "offices.csv").text
    assert "city: Lisbon" in offices and "address: Avenida da Liberdade 110" in offices
    contacts = load_document(corpus / "contacts.jsonl").text
    assert "team: Facilities" in contacts and "parking permits" in contacts


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_its_bom_is_decoded(tmp_path: Path, encoding: str):
    import codecs

    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    text = "Quillhaven 的港口有两座桥。\nThe ferry leaves at nine."
    path = tmp_path / "notes.txt"
    path.write_bytes(bom + text.encode(encoding))
    assert load_document(path).text.strip() == text


def test_a_json_file_of_records_or_one_record_becomes_field_value_records(tmp_path: Path):
    many = tmp_path / "offices.json"
    many.write_text('[{"city": "Lisbon", "floor": 3}, {"city": "Quillhaven", "floor": 1}]')
    text = load_document(many).text
    assert "city: Lisbon" in text and "city: Quillhaven" in text and "floor: 3" in text
    assert text.index("Lisbon") < text.index("Quillhaven")
    one = tmp_path / "office.json"
    one.write_text('{"city": "Quillhaven", "phone": "4321"}')
    assert "city: Quillhaven" in load_document(one).text
    assert "phone: 4321" in load_document(one).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.xyz", b"some text", "unsupported file type '.xyz'"),
        ("empty.txt", b"  \n\n ", "no text in it"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "damaged PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "damaged .docx"),
        ("bad.json", b"{not json", "bad JSON"),
    ],
)
def test_bad_files_are_unreadable_with_a_reason(tmp_path: Path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableDocument) as caught:
        load_document(path)
    assert reason in caught.value.message and str(path) in caught.value.message


def test_a_missing_extra_names_the_extra_to_install():
    with pytest.raises(MissingExtra) as caught:
        require("danlu_no_such_module_for_test", "kb")
    assert caught.value.one_line() == (
        "danlu kb needs the 'kb' extra (danlu_no_such_module_for_test is not installed) "
        "(pip install 'danlu[kb]')"
    )
