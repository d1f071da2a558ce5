"""Characters in manifests: which ones YAML refuses, which ones free text may hold, what counts
as blank, and how a message names a character. Pure.

Free text is every string a manifest gives that people read or the API receives (names,
labels, profile fields, codes). One rule holds for all of it (:func:`text_problem`): no control
character (C0, DEL, C1), no line break, and no bidirectional embedding, override or isolate,
which make text display in another order than it is stored ("Trojan Source"), so that a
reviewer could approve a name other than the one sent. Zero-width joiners and non-joiners,
variation selectors and left-to-right or right-to-left marks stay allowed: real names need
them (emoji sequences, Persian, Hindi, Hebrew). Messages name a character by its code point
and Unicode name (``U+202E RIGHT-TO-LEFT OVERRIDE``), never by itself: it is often invisible,
or would act on the terminal.
"""

from __future__ import annotations

import re
import unicodedata

from yaml.reader import Reader

YAML_REFUSED: re.Pattern[str] = Reader.NON_PRINTABLE
"""The characters YAML 1.1 does not allow anywhere in a stream (PyYAML's own definition; libyaml
refuses the same set): C0 controls but tab, line feed and carriage return; DEL; C1 controls but
NEL; surrogates; U+FFFE and U+FFFF."""

# Control characters have no Unicode name, only aliases, which unicodedata cannot give back.
_C0_NAMES = (
    "NULL", "START OF HEADING", "START OF TEXT", "END OF TEXT", "END OF TRANSMISSION",
    "ENQUIRY", "ACKNOWLEDGE", "ALERT", "BACKSPACE", "CHARACTER TABULATION", "LINE FEED",
    "LINE TABULATION", "FORM FEED", "CARRIAGE RETURN", "SHIFT OUT", "SHIFT IN",
    "DATA LINK ESCAPE", "DEVICE CONTROL ONE", "DEVICE CONTROL TWO", "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR", "NEGATIVE ACKNOWLEDGE", "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK", "CANCEL", "END OF MEDIUM", "SUBSTITUTE", "ESCAPE",
    "INFORMATION SEPARATOR FOUR", "INFORMATION SEPARATOR THREE", "INFORMATION SEPARATOR TWO",
    "INFORMATION SEPARATOR ONE")
_CONTROL_NAMES = {**{chr(code): name for code, name in enumerate(_C0_NAMES)},
                  "\x7f": "DELETE", "\x85": "NEXT LINE"}


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: the code point and name of one character."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char)
    if name:
        return f"{code} {name}"
    if unicodedata.category(char) == "Cc":
        return f"{code} (a control character)"
    return f"{code} (unnamed)"


_YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def line_and_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[index]``, counting lines as YAML does (CR LF,
    CR, LF, NEL, LS and PS each end one) and columns in characters, as parser marks do."""
    line, start = 1, 0
    for found in _YAML_BREAK.finditer(text, 0, index):
        line, start = line + 1, found.end()
    return line, index - start + 1


# Line breaks, then every other control character, then the bidirectional embeddings,
# overrides and isolates, then code points that are no characters (lone surrogates, which a
# YAML escape can make, and noncharacters).
_LINE_BREAKS = "\n\r\x85\u2028\u2029"
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_REFUSED_IN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                              "\ud800-\udfff\ufffe\uffff]")


def refused_character(text: str) -> str | None:
    """The first character free text may not hold in ``text``, or None."""
    found = _REFUSED_IN_TEXT.search(text)
    return None if found is None else found.group()


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be free text: its first refused character, named, at which
    character, and what kind it is; None if it can."""
    found = _REFUSED_IN_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    if char in _LINE_BREAKS:
        kind = "a line break: this text is one line"
    elif char in _BIDI_CONTROLS:
        kind = ("a bidirectional control: it makes text display in another order than it "
                "is written, so what is read is not what is sent")
    elif unicodedata.category(char) == "Cc":
        kind = "a control character"
    else:
        kind = "not a character"
    more = len(_REFUSED_IN_TEXT.findall(text, found.end()))
    others = f" ({more} more like it after it)" if more else ""
    return f"{describe(char)} (character {found.start() + 1}) is {kind}; remove it{others}"


# Letters that render as nothing (Hangul fillers) and the blank Braille pattern: a name of
# them looks empty, though Unicode does not call them format characters or marks.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only whitespace, format characters (category Cf: zero-
    width spaces and joiners, directional marks, tags...), combining marks (M*: accents alone,
    variation selectors) and the few letters that render as nothing."""
    for char in text:
        if char.isspace() or char in _BLANK_LOOKING:
            continue
        category = unicodedata.category(char)
        if category != "Cf" and category[0] != "M":
            return False
    return True


def invisible_summary(text: str, limit: int = 3) -> str:
    """The distinct non-space characters of a blank ``text``, named: ``U+200B ZERO WIDTH
    SPACE, U+2060 WORD JOINER``."""
    chars = list(dict.fromkeys(char for char in text if not char.isspace()))
    named = ", ".join(describe(char) for char in chars[:limit])
    return named + (f" and {len(chars) - limit} more" if len(chars) > limit else "")
