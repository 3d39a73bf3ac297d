"""Direct quotes and their speakers (builder.segment.quotes): the example document's seven quotes with
exact offsets, one small written document or string per behaviour with must / must-not expectations,
and a quality floor on real annotated news articles (../shared/realdata/polnear/dev) when they exist."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.segment.quotes import Quote, find_quotes
from tests.helpers import SAMPLES, SEED, SHARED, need_shared


def quotes_of(text: str, start: int = 0, end: int | None = None) -> list[Quote]:
    return find_quotes(text, start, len(text) if end is None else end)


def by_text(text: str, quotes: list[Quote]) -> dict[str, Quote]:
    return {text[q.start : q.end]: q for q in quotes}


def body(name: str) -> tuple[str, int]:
    """A sample document and where its body starts (after the title line)."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    return text, text.index("\n") + 1


# --- the example document -------------------------------------------------------------------------

def test_example_has_exactly_its_seven_quotes():
    raw = need_shared(SEED).read_text(encoding="utf-8")
    got = [(raw[q.start : q.end], q.speaker, q.speaker_resolved) for q in quotes_of(raw)]
    ministry = "the Russian Foreign Ministry"

    def span(first: str, last: str) -> str:
        a = raw.index(first)
        return raw[a : raw.index(last, a) + len(last)]

    assert got == [
        (span("the need to respect", "humanitarian law."), "Moscow", "Moscow"),
        (span("de-facto occupied by the US armed", "forces,"), ministry, ministry),
        (span("The training of militants", "in the area,"), "it", ministry),
        (span("hermetically closed", "Syrian territory,"), "the statement", ministry),
        (span("We demand the lifting", "humanitarian actions,"), "the ministry", ministry),
        ("bears full responsibility", "It", ministry),
        ("unconvincing and can’t withstand any criticism", "the ministry", ministry),
    ]
    # exact offsets: inside the marks, punctuation inside the marks kept
    for q in quotes_of(raw):
        assert raw[q.start - 1] == "“" and raw[q.end] == "”"
        assert 0 < q.score <= 1
    assert "border" not in {raw[q.start : q.end] for q in quotes_of(raw)}


def test_example_comments_have_no_quotes():
    raw = need_shared(SEED).read_text(encoding="utf-8")
    comments = raw.index("Carol Adl")
    assert quotes_of(raw, comments) == []


# --- one behaviour per document -------------------------------------------------------------------

def test_attribution_after_before_and_inverted():
    text, start = body("quotes_attribution.txt")
    q = by_text(text, quotes_of(text, start))
    assert q["We listened to the people who ride these boats every day,"].speaker == "Mayor Agnes Whitcombe"
    assert q["a small step, but the right one."].speaker == "Council member Tomas Reyes"
    assert q["The budget can carry it for one year,"].speaker == "Ingrid Solberg"
    assert q["will serve about four hundred people a night."].speaker == "the Ferry Riders Association"
    assert q["This is what we asked for in March."].speaker == "The association"
    assert q["This is what we asked for in March."].speaker_resolved == "the Ferry Riders Association"
    assert q["the need to keep the docks safe after dark."].speaker == "Ole Brandt"
    assert q["have been broken since the spring storms."].speaker == "He"
    assert q["have been broken since the spring storms."].speaker_resolved == "Ole Brandt"
    assert q["We will fix them before the first evening crossing,"].speaker == "the statement"


def test_split_quote_is_two_records_with_one_speaker():
    text, start = body("quotes_attribution.txt")
    q = by_text(text, quotes_of(text, start))
    first = q["Nobody wants a ferry that leaves before the late shift ends,"]
    second = q["and nobody wants one that runs empty either."]
    assert first.speaker == second.speaker == "Reyes"
    assert first.end < second.start  # the attribution between them is not quoted text
    assert "Reyes added" not in text[first.start : first.end] + text[second.start : second.end]


def test_speaker_carries_forward_in_the_paragraph():
    text, start = body("quotes_attribution.txt")
    q = by_text(text, quotes_of(text, start))
    assert q["After that we will need a new plan."].speaker == "Ingrid Solberg"


def test_quote_running_over_paragraphs_is_one_record():
    text, start = body("quotes_paragraphs.txt")
    qs = quotes_of(text, start)
    first = qs[0]
    span = text[first.start : first.end]
    assert span.startswith("When I started") and span.endswith("never gets easier,")
    assert span.count("\n\n") == 2
    assert first.speaker == "Haverford"
    # the narrative paragraph before it is not inside any quote
    intro = text.index("Asked what changed")
    assert all(not (q.start <= intro < q.end) for q in qs)


def test_following_quote_without_its_own_verb_takes_the_sentence_speaker():
    text, start = body("quotes_paragraphs.txt")
    q = by_text(text, quotes_of(text, start))
    late = q["I could not stop if I tried. They keep knocking on the door."]
    assert late.speaker == "She" and late.speaker_resolved == "Haverford"


def test_scare_quotes_titles_and_single_marks_are_not_quotes():
    text, start = body("quotes_not_quotes.txt")
    got = {text[q.start : q.end] for q in quotes_of(text, start)}
    for not_quote in ("The Clockmaker's Daughter,", "genius", "border", "storage room", "Friends of Eastgate"):
        assert not_quote not in got
    assert "People need to laugh right now, and this play is very, very funny," in got


def test_quotes_inside_comments_count():
    text, start = body("quotes_not_quotes.txt")
    comments = text.index("Gerald P.")
    q = by_text(text, quotes_of(text, comments))
    assert set(q) == {"never trust a clock that is always right.", "the second act drags a little,"}
    assert q["never trust a clock that is always right."].speaker == "My grandmother"
    assert q["the second act drags a little,"].speaker == "My neighbor"
    # a generic speaker with nothing to refer to stays as written
    assert q["the second act drags a little,"].speaker_resolved == "My neighbor"


@pytest.mark.parametrize("text, quoted, speaker", [
    ('Ms. Baptiste said, "The roof leaks."', "The roof leaks.", "Ms. Baptiste"),
    ("“The roof leaks,” Baptiste says.", "The roof leaks,", "Baptiste"),
    ("“The roof leaks,” says Ilse Baptiste, a tenant.", "The roof leaks,", "Ilse Baptiste"),
    ("“The roof leaks,” she told reporters.", "The roof leaks,", "she"),
    ("Baptiste wrote that the roof “leaks every winter.”", "leaks every winter.", "Baptiste"),
    ("Baptiste noted that the roof “leaks every winter.”", "leaks every winter.", "Baptiste"),
    ("The landlord stated: “Repairs begin Monday.”", "Repairs begin Monday.", "The landlord"),
    ("The roof “leaks every winter,” according to Ilse Baptiste.", "leaks every winter,", "Ilse Baptiste"),
    ("“Repairs begin Monday,” the notice read.", "Repairs begin Monday,", "the notice"),
    ("Baptiste pointed out the roof “leaks every single winter.”", "leaks every single winter.", "Baptiste"),
    # inverted after a clause that continues the quote's sentence
    ("“We are very pleased” about the ruling, said Ada Moss, director of the tenants union.", "We are very pleased",
     "Ada Moss"),
    ("“It cannot wait” until spring, says Ole Brandt, a dock worker.", "It cannot wait", "Ole Brandt"),
    ("“This will be a strain” for the council, said Ada Moss.", "This will be a strain", "Ada Moss"),
    # but a subject with an appositive keeps its verb, and the day after it is not inverted into a speaker
    ("“Fix the roof now!” the tenants’ lawyer, Ada Moss, wrote Sunday after the storm.", "Fix the roof now!",
     "Ada Moss"),
    # `told` takes an object: the paper is not the speaker
    ("“The roof leaks,” Baptiste, who has lived there since 1990, told the Gazette.", "The roof leaks,", "Baptiste"),
    # a name that ends like a participle is a subject, not an opening `Asked about …,`
    ("Bransted continued by saying, “Repairs begin Monday.”", "Repairs begin Monday.", "Bransted"),
    ("As the Gazette’s Ida Holm puts it, “The ferries are the real bridges.”", "The ferries are the real bridges.",
     "the Gazette’s Ida Holm"),
    # a participle phrase between the subject and its verb; `of two` ends a noun phrase
    ("Riders waiting at the dock chanted “Bring back the boat!” until dark.", "Bring back the boat!", "Riders"),
    ("A harbor official speaking to the Gazette said, “The piers will reopen.”", "The piers will reopen.",
     "A harbor official"),
    ("Asked about it, the 40-year-old father of two replied, “We need the late boat.”", "We need the late boat.",
     "the 40-year-old father of two"),
    ("Moss, during a town hall meeting in Bergen, said “We will fix it.”", "We will fix it.", "Moss"),
    # `X scolded him: “…,” she said`: the pronoun after the quote is the subject of the introduction
    ("Council member Ann Lee scolded him: “The ferry plan is wrong,” she said.", "The ferry plan is wrong,",
     "Council member Ann Lee"),
])
def test_speech_verbs(text, quoted, speaker):
    (q,) = quotes_of(text)
    assert text[q.start : q.end] == quoted
    assert q.speaker == speaker


def test_straight_and_curly_marks_and_partial_quotes():
    text = 'Baptiste called the repairs "too slow" and “far too expensive for tenants,” she said.'
    got = {text[q.start : q.end]: q.speaker for q in quotes_of(text)}
    assert got == {"too slow": "Baptiste", "far too expensive for tenants,": "she"}


def test_unclosed_mark_at_paragraph_end_is_dropped_not_run_on():
    text = 'He said "the roof is fine.\n\nThe next day it rained. "It leaks," he admitted.'
    got = [text[q.start : q.end] for q in quotes_of(text)]
    assert got == ["It leaks,"]


def test_span_is_stripped_and_within_the_container():
    text = "Intro.\n\n“  The roof leaks.  ” she said.\n\n“Outside,” he said."
    end = text.index("\n\n“Outside")
    (q,) = quotes_of(text, 0, end)
    assert text[q.start : q.end] == "The roof leaks."


def test_no_marks_no_quotes_and_empty_span():
    assert quotes_of("Nothing is quoted here.") == []
    assert quotes_of("") == []
    assert quotes_of('Text "" with an empty pair.') == []


PIECES = ["“", "”", '"', "‘", "’", "\n", "\n\n", " ", ",", ".", ":", "—", "said", "says", "he", "Ms. Ode",
          "the ministry", "according to", "The", "roof", "leaks", "=", "(", ")"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.integers(0, 10), st.integers(0, 10))
def test_any_text_gives_well_formed_quotes(pieces, cut_a, cut_b):
    text = " ".join(pieces)
    start, end = min(cut_a, len(text)), max(0, len(text) - cut_b)
    qs = find_quotes(text, start, end)
    assert qs == find_quotes(text, start, end)  # deterministic
    last = start
    for q in qs:
        assert last <= q.start < q.end <= end, "inside the container, in order, not overlapping"
        assert not text[q.start].isspace() and not text[q.end - 1].isspace()
        assert 0 < q.score <= 1
        assert (q.speaker is None) == (q.speaker_resolved is None)
        last = q.end


def test_filler_paragraphs_add_no_quotes():
    """A 5 KB article: the sample's quotes and long quote-free paragraphs after them. (Speed is
    measured by bench/throughput.py, not by a timed test.)"""
    text, start = body("quotes_attribution.txt")
    filler = "The council met again on Thursday to discuss the harbor budget and the state of the piers. " * 5
    doc = text[start:] + ("\n" + filler + "\n") * ((5000 - len(text)) // (len(filler) + 2))
    assert 4500 < len(doc) < 5500
    assert find_quotes(doc, 0, len(doc)) == find_quotes(text[start:], 0, len(text) - start)
    assert len(find_quotes(doc, 0, len(doc))) == 11


# --- real annotated news articles -------------------------------------------------------------------

POLNEAR_DEV = SHARED / "realdata" / "polnear" / "dev"
FLOORS = {"f1": 0.935, "speaker_accuracy": 0.905, "speaker_coverage": 0.965}


def test_polnear_dev_quality_floor():
    """The quality check of ../shared/eval/polnear.py, computed on find_quotes directly (the article is
    everything after the title line); fails when quality drops under the floors."""
    split = need_shared(POLNEAR_DEV)
    sys.path.insert(0, str(need_shared(SHARED / "eval")))
    try:
        from common import prf, span_chars
        from polnear import MARKS, gold_quotes, words
    finally:
        sys.path.pop(0)
    tp = npred = ngold = judged = correct = eligible = 0
    for f in sorted((split / "text").glob("*.txt")):
        anns = sorted((split / "attributions").glob(f.stem + "_*.ann"))
        if not anns:
            continue
        text = f.read_text(encoding="utf-8")
        gold = gold_quotes(text, anns[0].read_text(encoding="utf-8"))
        preds = [(span_chars(text, q.start, q.end, MARKS), q.speaker or "")
                 for q in find_quotes(text, text.index("\n") + 1, len(text))]
        pred_all = set().union(*(c for c, _ in preds))
        gold_all = set().union(*(c for c, _ in gold))
        tp, npred, ngold = tp + len(pred_all & gold_all), npred + len(pred_all), ngold + len(gold_all)
        for chars, speaker in gold:
            if not words(speaker):
                continue
            eligible += 1
            hits = [sp for c, sp in preds if c & chars]
            if hits:
                judged += 1
                correct += any(words(sp) & words(speaker) for sp in hits)
    f1 = prf(tp, npred, ngold)[2]
    got = {"f1": f1, "speaker_accuracy": correct / judged, "speaker_coverage": judged / eligible}
    low = {k: round(v, 3) for k, v in got.items() if v < FLOORS[k]}
    assert not low, f"under the floor {FLOORS}: {low}"


# --- titles, nicknames and defined terms are not quotes (issue "Real pages") -------------------------

@pytest.mark.parametrize("text, not_quote", [
    # a title after a sentence-opening "On"/"In", a possessive with a year, a kind of work before or after it
    ("On “Morning Roundtable,” the harbor master said the piers would reopen.", "Morning Roundtable,"),
    ("The council never forgot her 2009 “Plan for the Waterfront.” Two years later it was dropped.",
     "Plan for the Waterfront."),
    ("Solberg, who hosts the weekly radio program “Harbor Talk,” opened the meeting.", "Harbor Talk,"),
    ("The “Keepers of the Light” star grew up two streets from the ferry terminal.", "Keepers of the Light"),
    ("Riders waved the “Save the Night Boat” signs from the dock.", "Save the Night Boat"),
    ("Reyes’s “7th” premiered at the harbor festival.", "7th"),
    # a nickname inside a name, or given as one
    ("Council member Thomas “Tommy” Reyes voted against the plan.", "Tommy"),
    ("Critics gave the old ferry the nickname “Slow Boat Sam.”", "Slow Boat Sam."),
    # a term being defined
    ("The plan covers every “late evening crossing,” which is defined as one after ten at night.",
     "late evening crossing,"),
])
def test_titles_nicknames_and_defined_terms_are_not_quotes(text, not_quote):
    assert not_quote in text  # the case is written right
    assert not_quote not in {text[q.start : q.end] for q in quotes_of(text)}


@pytest.mark.parametrize("text, quoted, speaker", [
    # short partial quotes with a speech verb stay, even next to a capitalized name or a kind of work
    ("Reyes said the new timetable was a “huge relief” for the night shift.", "huge relief", "Reyes"),
    ("Solberg called the show “a mess” on Tuesday.", "a mess", "Solberg"),
    ("Whitcombe told the radio program she was “Not Worried.”", "Not Worried.", "Whitcombe"),
    ("“Harbor Talk,” Solberg said, “is back on Sunday.”", "Harbor Talk,", "Solberg"),
])
def test_short_quotes_with_a_speech_verb_stay(text, quoted, speaker):
    got = {text[q.start : q.end]: q.speaker for q in quotes_of(text)}
    assert got.get(quoted) == speaker, got


# --- the speed-ups' shortcuts answer as the patterns they guard -------------------------------------

SHORTCUT_PIECES = ["on", "last", "the", "Monday", "May", "morning", "recent", "recently", "weeks", "ago", "5th",
                   "2016", "’s", "'s", "(", ")", "(R-Utah)", ",", ":", " ", "\xa0", "\n", "Smith", "said", "called",
                   "named", "titled", "entitled", "known as", "x_", "٣", "İ", "ſ", "today.", "then", "now"]
# Endings each pattern can or nearly can match: the shortcut must say yes exactly where the pattern does.
SHORTCUT_TAILS = [" two weeks ago", " last May", " on the recent Foo", " (D-Ill.)", " now", " earlier this week",
                  ", 5th", " in 2016 morning", " Smith’s", " Smith's", " agos", " Tuesdays", " morning)", " called",
                  " a show called ,", " titled :", " known as", " entitled", " dubbed\xa0:", " renamed", " the book named",
                  "", " ", ",", "(x)", ",”", ";", " (", " —", "–’", '."', "!”", " and", " but", "band", " Rep. Ann Lee:",
                  ". Ann and Bo Li :", " - Al:", " reiterated", " told him ,", " warns reporters:", " urged them",
                  " asked me", " Is", "HALBERTON (AP) — ", "ELMSBY, N.D. - ", "Smith -- ", "x-\xa0"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(SHORTCUT_PIECES), max_size=10), st.sampled_from(["", " ", "-"]),
       st.sampled_from(SHORTCUT_TAILS), st.sampled_from(["", " ", "\xa0 ", "\n"]))
def test_shortcuts_answer_as_their_patterns(pieces, sep, tail, space):
    from builder.segment import quotes as q

    s = sep.join(pieces) + tail + space
    full = q._TRAIL_ADVERBIAL.search(s)
    fast = q._trail_adverbial(s)
    assert (full and full.span()) == (fast and fast.span())
    assert q._naming(s) == (q._NAMING.search(s) is not None)
    assert q._comma_end(s) == (q._COMMA_END.search(s) is not None)
    assert q._closed_before(s) == (q._CLOSED_BEFORE.search(s) is not None)
    assert q._loose_intro_end(s) or not q._LOOSE_INTRO.search(s)
    assert s.rstrip().endswith(":") or not q._NAME_COLON.search(s)
    assert s.rstrip().endswith(("and", "but")) or not q._AND_END.search(s)
    assert q._dash_space(s) or not q._DATELINE.match(s)
    assert q._dash_space(tail + space + s) or not q._DATELINE.match(tail + space + s)


SENTENCE_PIECES = ["Mr.", "Smith", "said", ".", "..", "…", "!", "?", "”", '"', "’", ")", "(", "“", "‘", " ", "  ", "\xa0",
                   "\n", "A", "b", "9", "Sept.", "U.S.", "—", "«", "»", "=", "x",
                   "… A", ". B", "! C", '." D', "…) E", "? “F", ".” (G", ".\xa0 9", "!\n"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(SENTENCE_PIECES), max_size=30), st.integers(0, 40), st.integers(0, 40))
def test_mark_and_sentence_scans_answer_as_the_regexes(pieces, lo, hi):
    from builder.segment import quotes as q

    text = "".join(pieces)
    lo, hi = min(lo, len(text)), min(max(lo, hi), len(text) + 3)
    assert [m.span() for m in q._sent_ends(text, lo, hi)] == [m.span() for m in q._SENT_END.finditer(text, lo, hi)]
    assert q._mark_positions(text, lo, hi) == [m.start() for m in q._MARK.finditer(text, lo, hi)]
    starts = q._sent_starts(text, 0, len(text))  # found once for a whole container
    assert [m.span() for m in q._sent_ends(text, lo, hi, starts)] == [m.span() for m in q._sent_ends(text, lo, hi)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(SENTENCE_PIECES + SHORTCUT_PIECES + ["&", "-", "_", "a-b", "O’Neil", "’s"]), max_size=20))
def test_words_joined_by_spaces_are_the_same_words(pieces):
    """_sentence_subject hands its words to _np_first instead of re-reading " ".join(words)."""
    from builder.segment import quotes as q

    words = q._tokens("".join(pieces))
    assert q._tokens(" ".join(words)) == words


FOLD_PIECES = ["the statement", "The STATEMENT", "a letter", "post", "ſaid", "SAİD", "saıd", "ReadS", "ſtated", "adds",
               "Noted", "DECLARES", "warned", "also", "according to", "ACCORDİNG TO", "accordıng\xa0to", "Accordiñg",
               " ", "  ", ",", "\n", "x", "K", "said", "text"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(FOLD_PIECES), max_size=12), st.sampled_from(["", " "]))
def test_folded_word_checks_never_miss_a_case_insensitive_match(pieces, sep):
    from builder.segment import quotes as q

    s = sep.join(pieces)
    assert q._may_hold_document(s) or not q._DOCUMENTS.search(s)
    assert any(v in q._folded(s) for v in q._DOC_VERBS) or not q._DOCUMENTS.search(s)
    assert "according" in q._folded(s) or not q._ACCORDING.search(s)
    assert [m.span() for m in q._documents(s)] == [m.span() for m in q._DOCUMENTS.finditer(s)]


ABBREV_PIECES = ["Mr", "Sen", "Calif", "vs", "Sept", "U.S", "R", "D", "a", "I", "ax", "Mass", "Del", "said", "9", ")",
                 "”", " ", "\n", "-", "é", "É", "x.", "Jr"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(ABBREV_PIECES), max_size=8), st.sampled_from(["", " "]), st.integers(0, 12))
def test_abbreviation_check_answers_as_the_pattern(pieces, sep, lo):
    from builder.segment import quotes as q

    text = sep.join(pieces) + "."
    k = len(text) - 1  # the full stop
    lo = min(lo, k)
    assert q._abbrev_before(text, lo, k) == (q._ABBREV.search(text, max(lo, k - 8), k) is not None)


def test_a_capitalized_document_noun_is_still_a_document():
    from builder.segment import quotes as q

    s = "The Statement read"
    assert [m.span() for m in q._documents(s)] == [m.span() for m in q._DOCUMENTS.finditer(s)] != []


def test_small_lowercase_words_are_not_a_title():
    text = "He repeats his “on and on and on” line at every rally."
    assert [text[q.start:q.end] for q in find_quotes(text, 0, len(text))] == ["on and on and on"]


def test_a_clause_ending_on_a_colon_introduces_the_next_quote_not_the_one_before():
    text = ("While Voss argued at length that the harbour fund needs “patient money,” Marek said: “I do not "
            "agree with that, not at all.”")
    got = [(text[q.start : q.end], q.speaker) for q in quotes_of(text)]
    assert got == [("patient money,", "Voss"), ("I do not agree with that, not at all.", "Marek")]
    # a quote that opens its sentence keeps the speaker after it, colon or not
    text = "“The ferry plan is wrong,” Marek said: “and the council knows it.”"
    assert [q.speaker for q in quotes_of(text)] == ["Marek", "Marek"]
    # with no speech verb before the quote, the clause after it is its speaker's, colon or not
    for text, speaker in (
            ("Asked about the delay, “we will build the bridge,” the mayor said: “and it will be soon.”", "the mayor"),
            ("In a statement on Monday, “we are proud of the crew,” Ana Berg said: “They worked hard.”", "Ana Berg")):
        assert [q.speaker for q in quotes_of(text)] == [speaker, speaker], text
