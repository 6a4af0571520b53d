"""Write the test corpus's binary files: a PDF, a DOCX and a GBK-encoded text file.

They are made from the text below at test time (small, reproducible, and reviewable as
text here); `corpus/` holds the text files as they are. `python make_corpus.py DIR`
writes a complete corpus into DIR.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

PDF_PAGES = [
    (
        "Data protection policy",
        "Personal data of customers is stored only in the company data centre in Frankfurt. "
        "Customer records are deleted seven years after the end of the contract.",
    ),
    (
        "Security incidents",
        "A security incident, such as a lost laptop or a phishing email that was opened, must "
        "be reported to security@northwind.example within 24 hours. The security team then "
        "decides whether the data protection officer is informed.",
    ),
]

DOCX_SECTIONS = [
    (
        "Clean desk",
        "Lock your screen whenever you leave your desk. Confidential printouts go into the "
        "locked grey shredding bins next to the printers, never into the paper recycling.",
    ),
    (
        "Visitors",
        "Visitors must wear a red visitor badge and be accompanied by an employee at all "
        "times. Register visitors at reception one day in advance.",
    ),
]

GBK_TEXT = (
    "员工食堂\n\n"
    "员工食堂每天中午十一点半至下午一点半供应午餐。员工凭工牌用餐，每餐享受十五元的补贴。\n\n"
    "每周五提供素食菜单。如有食物过敏，请提前告知食堂经理。\n"
)


def write_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for title, body in PDF_PAGES:
        pdf.add_page()
        pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 8, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def write_docx(path: Path) -> None:
    import docx

    doc = docx.Document()
    doc.add_heading("Information security", level=1)
    for title, body in DOCX_SECTIONS:
        doc.add_heading(title, level=2)
        doc.add_paragraph(body)
    doc.save(str(path))


def write_corpus(folder: Path) -> Path:
    """The whole corpus in `folder`: the text files copied, the binary ones made."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (HERE / "corpus").iterdir():
        shutil.copy(source, folder / source.name)
    write_pdf(folder / "policy.pdf")
    write_docx(folder / "security.docx")
    (folder / "canteen_gbk.txt").write_bytes(GBK_TEXT.encode("gbk"))
    return folder


if __name__ == "__main__":
    print(write_corpus(Path(sys.argv[1])))
