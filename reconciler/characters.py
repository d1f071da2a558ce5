"""Characters in manifests: which ones YAML refuses, and how a message names one. Pure.

Messages name a character by its code point and Unicode name (``U+202E RIGHT-TO-LEFT
OVERRIDE``), since the character itself is often invisible or would act on the terminal.
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
