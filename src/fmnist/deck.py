"""How the slides look: a 16:9 deck with one consistent style (`Deck`), what one slide says (`Slide`), and
`render`, which lays a `Slide` out on the deck: its table or figures on the left, its text beside them or below."""

import dataclasses
from pathlib import Path

from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from fmnist import plots

NAVY, ACCENT, INK, MUTED, PAPER = (
    RGBColor(0x1B, 0x2A, 0x41),
    RGBColor(0xE0, 0x7A, 0x1F),
    RGBColor(0x22, 0x22, 0x22),
    RGBColor(0x5F, 0x6B, 0x7A),
    RGBColor(0xF4, 0xF6, 0xF8),
)
FONT = "DejaVu Sans"
WIDTH, HEIGHT = Emu(12_192_000), Emu(6_858_000)  # 13.333 × 7.5 inches, the standard 16:9
TOP = Inches(1.35)  # below the title band
MARGIN, BODY_WIDTH = Inches(0.7), Inches(12)
TITLE_ONLY = 5  # the default template's layout with a title placeholder and nothing else


class Deck:
    """A 16:9 presentation with one consistent look: title band, body text, pictures, tables, notes."""

    def __init__(self, figures: Path):
        self.figures = figures
        self.presentation = Presentation()
        self.presentation.slide_width, self.presentation.slide_height = WIDTH, HEIGHT

    def slide(self, title: str, notes: str):
        """A new slide whose title sits in the layout's title placeholder, which the outline view and screen
        readers read, drawn as the navy band across the top."""
        slide = self.presentation.slides.add_slide(self.presentation.slide_layouts[TITLE_ONLY])
        band = slide.shapes.title
        band.left, band.top, band.width, band.height = 0, 0, WIDTH, Inches(1.1)
        band.fill.solid()
        band.fill.fore_color.rgb = NAVY
        frame = band.text_frame
        frame.text, frame.word_wrap, frame.auto_size = title, True, MSO_AUTO_SIZE.NONE
        frame.margin_left, frame.vertical_anchor = Inches(0.5), MSO_ANCHOR.MIDDLE
        paragraph = frame.paragraphs[0]
        paragraph.alignment = PP_ALIGN.LEFT
        paragraph.runs[0].font.size, paragraph.runs[0].font.bold, paragraph.runs[0].font.name = Pt(30), True, FONT
        paragraph.runs[0].font.color.rgb = PAPER
        slide.name = title
        slide.notes_slide.notes_text_frame.text = notes
        return slide

    def text(self, slide, text, left, top, width, height, size=20, color=INK, bold=False, align=None):
        box = slide.shapes.add_textbox(left, top, width, height)
        frame = box.text_frame
        frame.word_wrap = True
        for number, line in enumerate(text.split("\n")):
            paragraph = frame.paragraphs[0] if number == 0 else frame.add_paragraph()
            paragraph.text = line
            paragraph.space_after = Pt(size * 0.5)
            if align:
                paragraph.alignment = align
            for run in paragraph.runs:
                run.font.size, run.font.bold, run.font.name = Pt(size), bold, FONT
                run.font.color.rgb = color
        return box

    def bullets(self, slide, items, left=MARGIN, top=TOP, width=BODY_WIDTH, size=22, heading=""):
        """The items as bullets; under a `heading`, a bold line without a bullet, the items one level in."""
        lines = [heading] * bool(heading) + [f"•  {item}" for item in items]
        box = self.text(slide, "\n".join(lines), left, top, width, HEIGHT - top, size=size)
        if heading:
            first, *others = box.text_frame.paragraphs
            first.runs[0].font.bold = True
            for paragraph in others:
                paragraph.level = 1
        return box

    def picture(self, slide, name, left, top, max_width, max_height):
        """Place `reports/figures/<name>` as large as fits the box, centred in it, and never so small that its
        smallest text (the PNG's metadata, from `plots.save`) falls under `plots.SMALLEST_FONT` points."""
        path = self.figures / name
        with Image.open(path) as image:
            aspect = image.width / image.height
            smallest = float(image.info.get("Smallest font (pt)", plots.SMALLEST_FONT))
            readable = Inches(image.width / plots.DPI * plots.SMALLEST_FONT / smallest)
        width = max(min(max_width, int(max_height * aspect)), int(readable))
        height = int(width / aspect)
        return slide.shapes.add_picture(
            str(path), left + (max_width - width) // 2, top + (max_height - height) // 2, Emu(width), Emu(height)
        )

    def table(self, slide, rows, left, top, width, column_widths, size=14, highlight_row=None, max_height=None):
        row_height = min(Inches(0.4), (max_height or HEIGHT - top) // len(rows))
        if row_height < Pt(1.2 * size) + Inches(0.1):  # a line of text and the cell's top and bottom margins
            raise ValueError(f"a table of {len(rows)} rows does not fit the slide at {size} pt: split it")
        shape = slide.shapes.add_table(len(rows), len(rows[0]), left, top, width, row_height * len(rows))
        table = shape.table
        for column, fraction in enumerate(column_widths):
            table.columns[column].width = int(width * fraction)
        for r, row in enumerate(rows):
            table.rows[r].height = row_height
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = str(value)
                cell.fill.solid()
                cell.fill.fore_color.rgb = (
                    NAVY if r == 0 else (RGBColor(0xFC, 0xE9, 0xD6) if r == highlight_row else PAPER)
                )
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.alignment = PP_ALIGN.LEFT if c == 0 else PP_ALIGN.RIGHT
                    for run in paragraph.runs:
                        run.font.size, run.font.name = Pt(size), FONT
                        run.font.bold = r == 0 or r == highlight_row
                        run.font.color.rgb = PAPER if r == 0 else INK
        return shape

    def save(self, path) -> Path:
        self.presentation.save(path)
        return Path(path)


@dataclasses.dataclass
class Slide:
    """What one slide says; `render` decides where each part goes."""

    title: str
    notes: str
    bullets: list[str] = dataclasses.field(default_factory=list)
    figures: list[str] = dataclasses.field(default_factory=list)  # names in reports/figures, one or two
    table: list[tuple] = dataclasses.field(default_factory=list)  # the first row is the header
    headline: str = ""  # one big figure, with `caption` below it
    caption: str = ""
    heading: str = ""  # a heading above the bullets


def place_visuals(deck: Deck, slide, spec: Slide) -> int:
    """Put the slide's table or figures on it; return the left edge of the text beside them."""
    body = HEIGHT - TOP - Inches(0.15)
    if spec.table:
        widths = (0.45, 0.33, 0.22) if len(spec.table[0]) == 3 else (0.7, 0.3)
        size = 14 if len(spec.table) > 8 else 18
        last = len(spec.table) - 1
        deck.table(slide, spec.table, Inches(0.6), TOP, Inches(8.2), widths, size, highlight_row=last, max_height=body)
        return Inches(9.0)
    if len(spec.figures) == 2:
        deck.picture(slide, spec.figures[0], Inches(0.2), TOP, Inches(6.6), body)
        deck.picture(slide, spec.figures[1], Inches(6.9), TOP, Inches(6.2), body - Inches(2.0) * bool(spec.caption))
        return Inches(7.0)
    if spec.figures and spec.bullets:
        deck.picture(slide, spec.figures[0], Inches(0.3), TOP, Inches(7.4), body)
        return Inches(7.9)
    if spec.figures:
        deck.picture(slide, spec.figures[0], Inches(0.4), TOP, Inches(12.5), Inches(4.4))
    return MARGIN


def place_text(deck: Deck, slide, spec: Slide, left: int) -> None:
    """Put the bullets, the headline and the caption in the column that starts at `left`."""
    width, wide = WIDTH - left - Inches(0.3), left == MARGIN
    if spec.bullets:
        size = 22 if wide else 16
        deck.bullets(
            slide, spec.bullets, left=left, top=TOP + Inches(0.2), width=width, size=size, heading=spec.heading
        )
    top = Inches(2.0)
    if spec.headline:
        deck.text(
            slide, spec.headline, left, top, width, Inches(1.2), 32 if wide else 54, NAVY if wide else ACCENT, True
        )
        top += Inches(1.6)
    elif spec.figures:
        top = HEIGHT - Inches(2.1) if len(spec.figures) == 2 else Inches(5.85)
    if spec.caption:
        deck.text(slide, spec.caption, left, top, width, HEIGHT - top, size=15 if spec.figures else 20, color=MUTED)


def render(deck: Deck, spec: Slide) -> None:
    """Add one slide to `deck`: visuals on the left, text beside them or below."""
    slide = deck.slide(spec.title, spec.notes)
    place_text(deck, slide, spec, place_visuals(deck, slide, spec))
