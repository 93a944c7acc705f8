"""Factories for real files in real formats, generated in the tests (no binary fixtures to trust)."""

from __future__ import annotations

import email.message
import io
import struct
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LABEL_GUID = "3c5c0a6d-2f1e-4b5e-9d2a-1f0e8c7b6a59"
CUSTOM_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" name="MSIP_Label_{guid}_Enabled">'
    "<vt:lpwstr>true</vt:lpwstr></property>"
    '<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="3" name="MSIP_Label_{guid}_Name">'
    "<vt:lpwstr>{name}</vt:lpwstr></property></Properties>"
)


def people(n: int, start: int = 0) -> list[list[str]]:
    return [[f"Person {i}", f"person{i}@example.com", f"+46 70 {100 + i:03d} {10 + i % 90:02d} {20 + i % 80:02d}"]
            for i in range(start, start + n)]


def with_label(package: bytes, name: str) -> bytes:
    """Add a Microsoft Purview (MIP) sensitivity label to an OOXML package, as Office does."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/docProps/custom.xml" ContentType="'
                                    b'application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>')
            if item.filename == "_rels/.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdDetour" Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/custom-properties" '
                                    b'Target="docProps/custom.xml"/></Relationships>')
            target.writestr(item, data)
        target.writestr("docProps/custom.xml", CUSTOM_XML.format(guid=LABEL_GUID, name=name))
    return out.getvalue()


def docx(paragraphs: Sequence[str] = (), rows: Sequence[Sequence[str]] = (), header: str = "",
         comment: str = "") -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for text in paragraphs:
        paragraph = document.add_paragraph(text)
    if rows:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                table.cell(i, j).text = value
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if comment:
        paragraph = document.add_paragraph("See comment")
        document.add_comment(paragraph.runs, text=comment, author="Reviewer")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pptx(slides: Sequence[str], notes: Sequence[str] = ()) -> bytes:
    """A minimal PresentationML package: slide text and speaker notes."""
    ns = ('xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
          'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"')

    def shape(text: str) -> str:
        paragraphs = "".join(f"<a:p><a:r><a:t>{line}</a:t></a:r></a:p>" for line in text.split("\n"))
        return f"<p:sp><p:txBody>{paragraphs}</p:txBody></p:sp>"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                         'openxmlformats.org/package/2006/content-types"/>')
        package.writestr("ppt/presentation.xml", f"<p:presentation {ns}/>")
        for i, text in enumerate(slides, start=1):
            package.writestr(f"ppt/slides/slide{i}.xml", f"<p:sld {ns}><p:cSld><p:spTree>{shape(text)}"
                             "</p:spTree></p:cSld></p:sld>")
        for i, text in enumerate(notes, start=1):
            package.writestr(f"ppt/notesSlides/notesSlide{i}.xml", f"<p:notes {ns}><p:cSld><p:spTree>"
                             f"{shape(text)}</p:spTree></p:cSld></p:notes>")
    return buffer.getvalue()


def pdf(pages: Sequence[Sequence[str]], label: str | None = None, password: str | None = None,
        attachments: Sequence[tuple[str, bytes]] = ()) -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.add_font("DejaVu", "", str(FONT))
    document.set_font("DejaVu", size=11)
    for lines in pages:
        document.add_page()
        for line in lines:
            document.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    for name, data in attachments:
        document.embed_file(bytes=data, basename=name)
    if password:
        document.set_encryption(owner_password="owner-" + password, user_password=password)
    data = bytes(document.output())
    if label:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.add_metadata({f"/MSIP_Label_{LABEL_GUID}_Enabled": "true", f"/MSIP_Label_{LABEL_GUID}_Name": label})
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    return data


def zip_of(members: Sequence[tuple[str, bytes | str]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(members: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def mark_zip_encrypted(data: bytes) -> bytes:
    """Set the 'encrypted' flag on every member, as traditional PKWARE encryption does."""
    out = bytearray(data)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = out.find(signature)
        while position != -1:
            flags = struct.unpack_from("<H", out, position + flag_offset)[0]
            struct.pack_into("<H", out, position + flag_offset, flags | 0x1)
            position = out.find(signature, position + 4)
    return bytes(out)


def eml(body: str, attachments: Sequence[tuple[str, bytes, str]] = (), to: str = "team@example.com") -> bytes:
    message = email.message.EmailMessage()
    message["From"] = "sender@example.com"
    message["To"] = to
    message["Subject"] = "Forwarded list"
    message.set_content(body)
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def png_with_text(lines: Sequence[str]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 28)
    image = Image.new("RGB", (1400, 60 + 48 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 48 * i), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def odt(paragraphs: Sequence[str], rows: Sequence[Sequence[str]] = (), label: str | None = None) -> bytes:
    """A minimal OpenDocument text package: paragraphs, a table, and optionally a MIP label in meta.xml."""
    text_ns = 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    table_ns = 'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    office_ns = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    if rows:
        body += "<table:table>" + "".join(
            "<table:table-row>" + "".join(f"<table:table-cell><text:p>{c}</text:p></table:table-cell>" for c in row)
            + "</table:table-row>" for row in rows) + "</table:table>"
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {office_ns} {text_ns} {table_ns}>'
               f"<office:body><office:text>{body}</office:text></office:body></office:document-content>")
    meta_ns = 'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
    user = (f'<meta:user-defined meta:name="MSIP_Label_{LABEL_GUID}_Name">{label}</meta:user-defined>'
            if label else "")
    meta = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {office_ns} {meta_ns}>'
            f"<office:meta>{user}</office:meta></office:document-meta>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        package.writestr("content.xml", content)
        package.writestr("meta.xml", meta)
        package.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest xmlns:manifest='
                         '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
    return buffer.getvalue()


def image(kind: str, text: str = "", size: tuple[int, int] = (320, 120)) -> bytes:
    """A small picture in ``kind`` (PNG, JPEG, GIF), with a line of text when given."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", size, "white")
    if text:
        ImageDraw.Draw(picture).text((10, 40), text, fill="black", font=ImageFont.truetype(str(FONT), 24))
    buffer = io.BytesIO()
    picture.save(buffer, format=kind, **({"exif": _exif_with_thumbnail()} if kind == "JPEG" else {}))
    return buffer.getvalue()


def _exif_with_thumbnail() -> bytes:
    """EXIF data as cameras write it, an embedded JPEG thumbnail included (with an end-of-image marker of its own)."""
    from PIL import Image

    thumbnail = io.BytesIO()
    Image.new("RGB", (16, 16), "grey").save(thumbnail, format="JPEG")
    exif = Image.Exif()
    exif[0x010F] = "Detour test camera"
    raw = exif.tobytes()
    return raw + thumbnail.getvalue()  # the thumbnail's bytes inside the APP1 segment


def iban(account: int) -> str:
    """A valid Dutch IBAN (mod-97 check digits) for a made-up account."""
    bban = f"ABNA{account:010d}"
    digits = "".join(str(int(ch, 36)) for ch in bban + "NL00")
    return f"NL{98 - int(digits) % 97:02d}{bban}"


def invoice(account: int = 417164300) -> bytes:
    """A short payment request naming one bank account: a warning under the policy with warnings."""
    return f"Hello,\nplease pay invoice 2026-118 to {iban(account)} before Friday.\nThanks!\n".encode()
