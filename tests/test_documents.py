from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import DocsError
from rag.ingest.documents import read_documents


def test_reads_txt_and_md_recursively_and_skips_bad_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Alpha text.", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_text("# Beta\nBody.", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\x00\x01binary")
    (tmp_path / "d.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "e.md").write_text("  \n ", encoding="utf-8")
    (tmp_path / "f.pdf").write_bytes(b"%PDF")  # not even a PDF header
    (tmp_path / "h.xlsx").write_bytes(b"PK\x03\x04")  # not a format we read: not listed
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "g.txt").write_text("secret", encoding="utf-8")
    docs, skipped = read_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["a.txt", "sub/b.md"]
    reasons = {s.doc_id: s.reason for s in skipped}
    assert set(reasons) == {"c.txt", "d.txt", "e.md", "f.pdf"}
    assert "binary" in reasons["c.txt"] and "UTF-8" in reasons["d.txt"]
    assert "empty" in reasons["e.md"]
    assert "named .pdf but its content is plain text" in reasons["f.pdf"]
    for name in ("c.txt", "d.txt", "e.md", "f.pdf"):
        assert name in caplog.text


def test_offsets_match_read_text_with_windows_newlines(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"First line.\r\nSecond line.\r\n")
    docs, _ = read_documents(tmp_path)
    assert docs[0].text == (tmp_path / "w.txt").read_text(encoding="utf-8")


def test_missing_or_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DocsError, match="does not exist"):
        read_documents(tmp_path / "nope")
    (tmp_path / "x.bin").write_bytes(b"\x00")
    (tmp_path / "y.txt").write_bytes(b"\x00")
    with pytest.raises(DocsError, match="no readable"):
        read_documents(tmp_path)
