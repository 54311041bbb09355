r"""Text from outside made safe to print in a terminal: literal, inert and bounded.

Email addresses, ids, vendor error messages and field values reach `syncd` from HubSpot and
Mailchimp, and reach the command line from the store. They are data, so every command prints
them through this module:

- never as rich markup: strings become `rich.text.Text`, which is not parsed, so `[/]` cannot
  crash a table and `[link=...]` cannot turn into a terminal hyperlink;
- with every control character shown as its Python escape (`\x1b`, `\u202e`), so a value
  cannot move the cursor, clear the screen, retitle the terminal, reverse the line or hide text;
- cut to a budget with an ellipsis where it sits in a table cell, so one 5,000-character value
  cannot stretch a table over a screenful of lines.

syncd's own words (labels, styles) are added as `(text, style)` pieces of `line`, never by
interpolating data into a markup string.
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

#: Zero-width joiners are invisible by design but legitimate (emoji sequences, Indic scripts).
_KEPT_FORMAT = frozenset("\u200c\u200d")
#: Whitespace a one-line cell folds into a space, and a multi-line message keeps.
_LAYOUT = frozenset("\t\n")
#: Budget of a table cell that does not name one (characters, as the terminal counts them).
DEFAULT_BUDGET = 60

Piece = str | tuple[str, str]


def _is_hidden(char: str) -> bool:
    """Whether a terminal would act on `char` or not show it.

    Controls, format characters (bidirectional overrides, zero-width spaces, tags) and line or
    paragraph separators.
    """
    if char.isprintable() or char in _KEPT_FORMAT:
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def inert(value: object, *, multiline: bool = False) -> str:
    """`value` as text a terminal shows literally and does not act on.

    Use for every string that came from a vendor, the store or the user before it is printed.

    Args:
        value: Anything; None is the empty string.
        multiline: Keep newlines and tabs (a message with a list of problems); otherwise they
            become spaces, as a table cell or a one-line summary needs. A carriage return is
            always escaped, since it lets later text overwrite the line.

    Returns:
        The text with every control and invisible format character replaced by its escape.
    """
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    if multiline:
        text = text.replace("\r\n", "\n")
    out: list[str] = []
    for char in text:
        if char in _LAYOUT:
            out.append(char if multiline else " ")
        elif _is_hidden(char):
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def clip(value: object, budget: int = DEFAULT_BUDGET) -> str:
    """`inert(value)` on one line, cut to `budget` terminal cells with an ellipsis.

    Use where a value has a fixed place: a table cell, a column of a plain-text report.
    Wide characters (CJK, most emoji) count as two cells, as the terminal draws them.
    """
    text = Text(inert(value))
    text.truncate(budget, overflow="ellipsis")
    return text.plain


def cell(value: object, budget: int = DEFAULT_BUDGET, style: str = "") -> Text:
    """A table cell holding `value` literally, within `budget` cells, optionally styled."""
    return Text(clip(value, budget), style=style)


def line(*pieces: Piece, multiline: bool = False) -> Text:
    """One printable line built from data and syncd's own styled words, none of it markup.

    Args:
        pieces: Plain strings are shown literally; `(text, style)` pairs get a rich style.
            Both are made inert, so a value may safely be either.
        multiline: Keep newlines and tabs in the pieces (see `inert`).
    """
    out = Text()
    for piece in pieces:
        text, style = (piece, "") if isinstance(piece, str) else piece
        out.append(inert(text, multiline=multiline), style=style or None)
    return out
