import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickstock_ops.symbols import MAX_LENGTH, SymbolError, normalise_symbol

REAL_SYMBOLS = ["AAPL", "T", "BRK.B", "BRK-B", "BF/B", "ABC.WS", "XYZ/U", "CEDBU", "AGM.PR.D", "GS-PD", "AAPL.US",
                "^GSPC", "^VIX", "I:SPX", "X:BTCUSD", "ES=F", "BTC-USD", "3M"]


@pytest.mark.parametrize("symbol", REAL_SYMBOLS)
def test_real_world_spellings_of_symbols_are_accepted_as_they_are(symbol):
    assert normalise_symbol(symbol) == symbol


def test_input_is_trimmed_and_upper_cased():
    assert normalise_symbol("  brk.b ") == "BRK.B"
    assert normalise_symbol("^gspc") == "^GSPC"


@pytest.mark.parametrize(("value", "why"), [
    ("", "symbol is empty"),
    ("   ", "symbol is empty"),
    ("<B>X</B>", "contains '<>'"),
    ("A B", "contains ' '"),
    ("AAPL;DROP", "contains ';'"),
    ("ÄPFEL", "contains 'Ä'"),
    ("X" * 21, "longer than 20 characters"),
    ("-A", "at most two"),
    ("A.B.C.D", "at most two"),
    ("^", "at most two"),
    ("A..B", "at most two"),
    (7, "is not text"),
])
def test_what_cannot_be_a_symbol_is_refused_with_the_reason(value, why):
    with pytest.raises(SymbolError, match=re.escape(why)):
        normalise_symbol(value)


@given(st.text(max_size=30))
def test_any_text_is_either_refused_or_normalised_to_a_stable_plain_symbol(text):
    try:
        symbol = normalise_symbol(text)
    except SymbolError as error:
        assert str(error).startswith("symbol")
        return
    assert normalise_symbol(symbol) == symbol
    assert 1 <= len(symbol) <= MAX_LENGTH
    assert symbol == text.strip().upper()
    assert all(char.isascii() and (char.isalnum() or char in ".-/=^:") for char in symbol)
