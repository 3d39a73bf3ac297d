"""Train the spam scorer's character n-gram model and write builder/segment/models/spam_ngram.json.

Data: the UCI YouTube Spam Collection (Túlio C. Alberto, Johannes V. Lochter, Tiago A. Almeida,
"TubeSpam: Comment Spam Filtering on YouTube", ICMLA 2015; CC BY 4.0), read from
../shared/realdata/youtube-spam/*.csv next to the checkout, plus NEWS_HAM below. The collection is
never copied into the project: only the weights learned from it ship, with this credit in the
model's metadata.

Model: logistic regression (scikit-learn's liblinear solver: deterministic, and independent of the
machine's BLAS) over the distinct character 4-grams of a comment as spam_features.analyze
normalizes it, each worth 1/sqrt(their number). 4-grams seen in only one training comment are
dropped (they are names and noise, and halve the file). Weights are rounded to 4 decimals and
written with sorted keys, so the same data gives the same file on every run.

    python scripts/train_spam.py                 # train on every CSV, write the model
    python scripts/train_spam.py --check         # retrain, exit 1 if the shipped model differs
    python scripts/train_spam.py --cross-video   # train on each file, test on each other one: F1 of the
                                                 # n-gram model alone and of the whole scorer
    python scripts/train_spam.py --dragnet       # the shipped scorer on real news comment paragraphs:
                                                 # share typed spam, µs of CPU per 100 characters

scikit-learn is a core dependency of the project already.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    # By file, not `import builder.segment...`: the package imports the scorer, which loads the model
    # this script makes, and the rest of the segmenter; training needs neither.
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_{name}", ROOT / "builder" / "segment" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses and NamedTuples look their module up while built
    spec.loader.exec_module(mod)
    return mod


_F = _load("spam_features")
NGRAM, analyze, ngrams = _F.NGRAM, _F.analyze, _F.ngrams
rule_logit = _load("spam_rules").rule_logit
DATA = ROOT.parent / "shared" / "realdata" / "youtube-spam"
MODEL = ROOT / "builder" / "segment" / "models" / "spam_ngram.json"
MIN_DF = 2
C = 16.0  # inverse L2 strength: picked by cross-video F1 (train on one video, test on another)
DECIMALS = 4
CREDIT = (
    "Trained on the UCI YouTube Spam Collection (Alberto, Lochter & Almeida, 'TubeSpam: Comment Spam "
    "Filtering on YouTube', ICMLA 2015), licensed CC BY 4.0. The data itself is not included."
)

# Ham from the domain the scorer works in, written for this project by its authors (not taken
# from any page): news-site comments that argue, swear, cite links and quote prices. Without them
# the model learns from YouTube alone that anything not about a music video is spam.
NEWS_HAM = [
    "This is exactly the kind of reporting we need more of. Thank you for covering the council meeting.",
    "You clearly did not read the article. The bill was passed in 2009, not last year.",
    "Nonsense. The numbers in the second paragraph contradict the headline.",
    "I live two streets from the plant and nobody told us anything about the leak until the fire trucks showed up.",
    "Where is the evidence for any of this? Anonymous sources again.",
    "The mayor promised a new bridge three elections ago. Still waiting.",
    "Agreed.",
    "Source?",
    "Exactly right.",
    "Well put, couldn't agree more.",
    "What a load of rubbish. Both parties voted for this and now they pretend to be shocked.",
    "My grandfather worked in that mine for forty years. The closure will hit the whole valley hard.",
    "Gas was $3.89 a gallon here yesterday, and the article says prices are falling? Not where I live.",
    "The study they cite was funded by the industry itself. Read the disclosure at the bottom of https://www.example.org/report before you believe a word of it.",
    "Rents went from $900 to $1,450 a month in four years in our building. Wages did not.",
    "The stadium cost taxpayers $600 million and the team left after six seasons.",
    "They charged me $35 for a checked bag last week. Ridiculous.",
    "Anyone who thinks tariffs are paid by the exporting country should read an economics textbook.",
    "You are the one spreading lies here, not the reporter. Look at the court filing yourself.",
    "The referee decision in the 80th minute changed the whole game. Shameful.",
    "Great win for the team tonight, the defense finally showed up.",
    "He has been the best striker in the league for three seasons and they still sold him.",
    "I subscribe to the print edition and this story was not in it. Why online only?",
    "Check out the original interview, the quote is taken completely out of context.",
    "If you check the court records you will see the charges were dropped in March.",
    "The link in the article is broken, by the way.",
    "The full budget is on the city website, www.cityofexample.gov, page 40 shows the police overtime.",
    "According to the BBC the death toll is much higher than reported here.",
    "This government has no plan. None. They just react to headlines.",
    "How is this news? Every summer the same story about the heat.",
    "Typical. Blame the workers, never the management.",
    "My daughter's school lost two teachers this year because of these cuts.",
    "The vaccine trial data was published in full, you can read it yourself instead of repeating rumors.",
    "I used to support him but after this vote I am done.",
    "Shut up, you have no idea what you are talking about.",
    "Idiots like you are why we cannot have a serious debate in this country.",
    "Why do the comments on every article turn into the same fight?",
    "Thanks for the update. Is the road open again?",
    "The new phone costs $1,199 and the only change is the camera. Hard pass.",
    "Interest rates at 7 percent mean nobody my age will ever buy a house.",
    "The company reported earnings of $2.3 billion last quarter and still laid off 4,000 people.",
    "Teachers here make $38,000 a year. Let that sink in.",
    "Minimum wage workers earn $7.25 an hour in this state, and the article calls that a living wage?",
    "The union asked for $2 more per hour and the company said no. Now they are on strike.",
    "Read the actual text of the law before commenting. Section 3 says the opposite.",
    "That's not what he said at all. Watch the whole speech.",
    "The police report says the driver was sober. Stop speculating.",
    "So the minister resigns and gets a pension of $90,000 a year for life. Nice work if you can get it.",
    "Haha, the same people complaining about the deficit voted for the tax cut.",
    "I have been reading this paper for twenty years and the quality keeps dropping.",
    "Can someone explain why the vote was delayed again?",
    "Good article, but the map in the middle is wrong. The river runs east of the town.",
    "The software update bricked my laptop. Glad I am not the only one.",
    "Open source projects like this one depend on volunteers, and nobody pays them.",
    "Windows 8 is a mess on a desktop. Who thought removing the start button was a good idea?",
    "The battery life claims are always measured with the screen at minimum brightness.",
    "I tried the recipe last night and it was too salty, I would use half the soy sauce.",
    "Beautiful photos. We hiked that trail in October and the colors were amazing.",
    "The hotel charged us a resort fee of $45 per night that was never mentioned when we booked.",
    "Flights to Denver were $129 on Tuesday and $480 on Friday. Same seat.",
    "Russia says, America says, nobody on the ground gets asked.",
    "The refugees in that camp have been there for years. Whoever controls the area should let the trucks in.",
    "Both sides are using the civilians as bargaining chips. Disgusting.",
    "You keep posting the same link under every article. It proves nothing.",
    "Here is the actual report: http://www.example.com/data/2012/summary.pdf. Page 12 has the numbers he is talking about.",
    "This blog post explains it better: https://blog.example.net/why-the-model-failed",
    "Sorry, but you are wrong about the dates. The treaty was signed in 1994.",
    "The author should disclose that he used to work for the company.",
    "Lol, the comments are better than the article.",
    "Great point about the water bills. Ours doubled too.",
    "I called my representative about this and got a form letter back.",
    "This is a disgrace. The hospital turned away a woman in labor because of paperwork.",
    "No wonder people do not trust the media anymore, this headline is pure clickbait.",
    "It is going to take years to rebuild after this storm.",
    "Prayers for the families. What a terrible accident.",
    "Who pays for all this? We do, as always.",
    "Sure, blame the immigrants. It is always easier than fixing the schools.",
    "The coach has to go. Five losses in a row and the same tactics every week.",
    "Can't believe they are closing the library. Where will the kids go after school?",
    "My uncle made his money in real estate in the 80s and even he says the market is crazy now.",
    "I got a parking ticket for $75 while I was paying at the machine. The city is a scam.",
    "If you want to know how bad it is, go to the emergency room on a Saturday night.",
    "Please stop calling it a tax relief. It is a tax shift onto the rest of us.",
    "Well said.",
    "Nope.",
    "Thank you for this thoughtful piece.",
    "What a joke.",
    "Absolutely spot on, the regulators were asleep.",
    "This comment section is full of bots.",
    "Another great column, Maria. Keep them coming.",
    "I have followed this story from the start and the one thing nobody explains is who approved the contract in the "
    "first place. The minutes of that meeting are still not public.",
    "We moved here in 1998 when the factory was still running three shifts. Now half the street is empty and the "
    "council talks about a new shopping centre as if that will bring the jobs back.",
    "I am a nurse and I can tell you the staffing numbers in this article are optimistic. On my ward we run with two "
    "people short most nights, and nobody in management seems to care until something goes wrong.",
    "@Martin I agree with most of that, but the timeline is off. The layoffs started before the merger was announced.",
    "@Sue no, the vote was 5 to 4, the article has it right.",
    "The local news on Channel 4 had a completely different account of the fire, with interviews from the neighbours.",
    "Interesting piece. I wrote about the same court case on my site last month and came to the opposite conclusion, "
    "mostly because of the second expert witness.",
    "Please share this with anyone who lives near the river, the evacuation routes changed this year.",
    "Does anyone know if the library branch on Elm Street is affected? My kids use it every day after school.",
    "I used to think the critics were exaggerating, but after reading the inspection report I have changed my mind. "
    "The building should have been closed years ago.",
    "Why is nobody asking where the money went? The fund had $12 million at the start of the year and now the "
    "treasurer says it is empty.",
    "The price of a cinema ticket here is now $16, and they wonder why people stay home and stream.",
    "My father worked for the railway for 35 years and his pension was cut twice. Stories like this make me furious.",
    "Honestly the best thing about this recipe is how forgiving it is. I forgot the eggs the first time and it still "
    "turned out fine.",
    "I ran the numbers myself and the savings only appear if you assume fuel stays at last year's price. It will not.",
    "This is a really thoughtful review. I saw the film on Friday and felt the same about the ending, it drags on.",
    "The coach said after the game that the team played without energy. That has been true for two months now.",
    "I would love a follow up on what happened to the families after they were rehoused.",
    "Not sure why everyone is so surprised. The same company was fined twice before for exactly this.",
    "Thank you for writing this. My mother went through the same thing with her insurance and it took a lawyer to "
    "get them to pay.",
    "The real story here is the lack of oversight. Any board that approves a budget without reading it should resign.",
    "As someone who grew up in that neighbourhood, I can say the description in the article is fair, if a bit harsh.",
    "I check the river levels every morning during the flood season, and they were higher last week than the city "
    "admitted.",
    "Great post, it reminded me of my first year of teaching. Nobody prepares you for the paperwork.",
    "There is a typo in the third paragraph, it should be 2012 not 2021.",
    "So much for transparency. They promised to publish the emails and then released three pages, all redacted.",
    "The last time they tried this policy, crime went up, not down. Look at the figures from 2009 to 2011.",
    "My husband and I tried that restaurant on Saturday. Overpriced and the service was slow, but the dessert was good.",
    "People keep saying the market will sort it out. It has not sorted anything out in twenty years.",
    "I live abroad and follow the news from home through this site. Thank you for keeping the comments open.",
    "The photo caption is wrong, that is the old town hall, not the new one.",
    "What happens to the workers who are already on temporary contracts? The article does not say.",
    "I voted for her last time and I regret it. She promised to fix the roads and did nothing.",
    "Can we please stop pretending that one more tax break will bring the plant back?",
    "This is the kind of reporting I would pay for. Detailed, fair, and it names names.",
    "The trial has been postponed four times now. Justice delayed is justice denied.",
    "I work in IT and the breach they describe is exactly what happens when you skip updates for years.",
    "Wonderful photos of the festival, it brought back memories of going there with my grandparents.",
    "The bank charged me a $25 fee for a transfer that took three days. In 2012. Unbelievable.",
    "He is right about one thing, the schools need more money, but raising the sales tax hits the poorest families.",
]
NEWS_HAM_WEIGHT = 0.5  # with C, picked by cross-video F1 against the share of dragnet comment paragraphs flagged


def read_csv(path: Path) -> list[tuple[str, str, bool]]:
    """(body, author, is_spam) per row, with the body cleaned the way the YouTube check lays it out
    on a page: HTML entities decoded, <br> as a space, whitespace collapsed."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"AUTHOR", "CONTENT", "CLASS"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"train_spam: {path} lacks column(s) {', '.join(sorted(missing))}; "
                             "expected COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS")
        rows = list(reader)
    out = []
    for r in rows:
        body = re.sub(r"\s+", " ", html.unescape(re.sub(r"<br\s*/?>", " ", r["CONTENT"]))).strip()
        out.append((body, r["AUTHOR"].strip(), r["CLASS"].strip() == "1"))
    return out


def grams_of(texts: list[str]) -> list[frozenset[str]]:
    return [ngrams(analyze(t, None).norm) for t in texts]  # as strings: analyze gives long texts' as keys


def vocabulary(grams: list[frozenset[str]]) -> list[str]:
    """4-grams in at least MIN_DF training comments, sorted."""
    df: dict[str, int] = {}
    for g in grams:
        for x in g:
            df[x] = df.get(x, 0) + 1
    return sorted(x for x, n in df.items() if n >= MIN_DF)


def design(grams: list[frozenset[str]], vocab: list[str]):
    """The sparse feature matrix, each row as spam.ngram_logit sees it."""
    from scipy.sparse import csr_matrix

    index = {x: i for i, x in enumerate(vocab)}
    indptr, cols, vals = [0], [], []
    for g in grams:
        row = sorted(index[x] for x in g if x in index)
        cols += row
        vals += [1.0 / np.sqrt(len(g))] * len(row) if g else []
        indptr.append(len(cols))
    return csr_matrix((np.array(vals, dtype=np.float64), np.array(cols, dtype=np.int64), np.array(indptr)),
                      shape=(len(grams), len(vocab)))


def fit(texts: list[str], labels: list[bool]) -> tuple[float, dict[str, float]]:
    """Intercept and {4-gram: weight} of the model trained on texts + NEWS_HAM."""
    from sklearn.linear_model import LogisticRegression

    grams = grams_of(list(texts) + NEWS_HAM)
    vocab = vocabulary(grams)
    y = np.r_[np.array(labels, dtype=np.int8), np.zeros(len(NEWS_HAM), np.int8)]
    sample_weight = np.r_[np.ones(len(texts)), np.full(len(NEWS_HAM), NEWS_HAM_WEIGHT)]
    lr = LogisticRegression(solver="liblinear", C=C, tol=1e-6, max_iter=1000, random_state=0)
    lr.fit(design(grams, vocab), y, sample_weight=sample_weight)
    w = {x: round(float(v), DECIMALS) for x, v in zip(vocab, lr.coef_[0])}
    return round(float(lr.intercept_[0]), DECIMALS), {x: v for x, v in w.items() if v != 0.0}


def logit(bias: float, weights: dict[str, float], grams: frozenset[str]) -> float:
    """As spam.ngram_logit computes it."""
    return bias + sum(round(weights.get(x, 0.0) * 10_000) for x in grams) / 10_000 / math.sqrt(len(grams)) if grams else bias


def model_json(bias: float, weights: dict[str, float], files: list[Path], n: int) -> dict:
    return {
        "format": "spam-ngram/2",
        "ngram": NGRAM,
        "bias": bias,
        "weights_sha256": weights_hash(bias, weights),
        "trained_on": {"files": sorted(f.name for f in files), "comments": n,
                       "hand_written_news_ham": len(NEWS_HAM), "C": C, "min_df": MIN_DF},
        "credit": CREDIT,
        "weights": dict(sorted(weights.items())),
    }


def weights_hash(bias: float, weights: dict[str, float]) -> str:
    return hashlib.sha256(json.dumps([bias, sorted(weights.items())], ensure_ascii=False).encode()).hexdigest()


def train(files: list[Path]) -> dict:
    data = [row for f in files for row in read_csv(f)]
    bias, w = fit([t for t, _, _ in data], [y for _, _, y in data])
    return model_json(bias, w, files, len(data))


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model ships with the package
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def dump(model: dict) -> str:
    # Metadata one key a line, then one 4-gram a line: a retrain's diff shows what moved.
    head = json.dumps({k: v for k, v in model.items() if k != "weights"}, ensure_ascii=False, indent=1)
    body = ",\n".join(f"  {json.dumps(k, ensure_ascii=False)}: {v}" for k, v in model["weights"].items())
    return head[:-2] + ',\n "weights": {\n' + body + "\n }\n}\n"


def prf(pred: list[bool], gold: list[bool]) -> tuple[float, float, float]:
    tp = sum(p and g for p, g in zip(pred, gold))
    p = tp / max(sum(pred), 1)
    r = tp / max(sum(gold), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def cross_video(files: list[Path]) -> list[tuple[str, str, str, float, float, float]]:
    """(train file, test file, what, precision, recall, F1) for every ordered pair of distinct
    files, of the n-gram model alone and of the whole scorer (n-grams + spam_rules)."""
    data = {f: read_csv(f) for f in files}
    out = []
    for tr in files:
        bias, w = fit([t for t, _, _ in data[tr]], [y for _, _, y in data[tr]])
        for te in files:
            if te == tr:
                continue
            found = [analyze(t, a) for t, a, _ in data[te]]
            gold = [y for _, _, y in data[te]]
            ngram = [logit(bias, w, ngrams(x.norm)) for x in found]
            out.append((tr.name, te.name, "n-grams", *prf([z >= 0 for z in ngram], gold)))
            whole = [z + rule_logit(x.signals) >= 0 for z, x in zip(ngram, found)]
            out.append((tr.name, te.name, "scorer", *prf(whole, gold)))
    return out


DRAGNET = ROOT.parent / "shared" / "realdata" / "dragnet" / "docs"
DRAGNET_MARK = "!@#$%^&*()  COMMENTS"


def dragnet_paragraphs(docs: Path = DRAGNET) -> list[str]:
    """Every paragraph of 60+ characters after the comments marker of the dragnet pages: real blog
    and news comments (2011–12), nearly all ham (as tests/test_spam.py reads them)."""
    paras = []
    for f in sorted(docs.glob("*.txt")):
        text = f.read_text(encoding="utf-8", errors="replace")
        if DRAGNET_MARK in text:
            paras += [p.strip() for p in text.split(DRAGNET_MARK, 1)[1].split("\n") if len(p.strip()) >= 60]
    return paras


def dragnet_speed(paras: list[str], runs: int = 5) -> tuple[float, float]:
    """(share typed spam, µs of CPU per 100 characters, the least of `runs` passes) of the shipped
    scorer: CPU time, so other processes on a shared machine count less."""
    import time

    from builder.segment.spam import spam_probability  # the package's scorer, with its model

    best, flagged = math.inf, 0
    for _ in range(runs):
        start = time.process_time()
        flagged = sum(spam_probability(p, None) >= 0.5 for p in paras)
        best = min(best, time.process_time() - start)
    return flagged / len(paras), best / sum(map(len, paras)) * 100 * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder of the collection's CSV files")
    ap.add_argument("--out", type=Path, default=MODEL, help="model file to write")
    ap.add_argument("--check", action="store_true", help="retrain and compare with --out instead of writing it")
    ap.add_argument("--cross-video", action="store_true",
                    help="print train-on-one, test-on-other F1 (n-grams alone and the whole scorer)")
    ap.add_argument("--dragnet", action="store_true",
                    help="score the dragnet comment paragraphs with the shipped model: share typed spam, speed")
    a = ap.parse_args(argv)
    if a.dragnet:
        if not DRAGNET.is_dir():
            print(f"train_spam: {DRAGNET} is not here (the workplace's dragnet pages)", file=sys.stderr)
            return 2
        paras = dragnet_paragraphs()
        share, us = dragnet_speed(paras)
        print(f"{len(paras)} dragnet comment paragraphs ({sum(map(len, paras)) / len(paras):.0f} characters on "
              f"average): {share:.1%} typed spam, {us:.1f} µs of CPU per 100 characters")
        return 0
    files = sorted(a.data.glob("*.csv"))
    if not files:
        print(f"train_spam: no *.csv in {a.data} (expected the UCI YouTube Spam Collection there)", file=sys.stderr)
        return 2
    if a.cross_video:
        for tr, te, what, p, r, f in cross_video(files):
            print(f"train {tr} test {te} {what:8s}: precision {p:.3f} recall {r:.3f} f1 {f:.3f}")
        return 0
    model = train(files)
    if a.check:
        if not a.out.exists():
            print(f"train_spam: no model at {a.out} to check; run without --check to write it", file=sys.stderr)
            return 1
        shipped = json.loads(a.out.read_text(encoding="utf-8"))
        same = shipped["weights_sha256"] == model["weights_sha256"]
        print(f"{'same' if same else 'DIFFERENT'} weights: shipped {shipped['weights_sha256'][:16]} "
              f"retrained {model['weights_sha256'][:16]}")
        return 0 if same else 1
    write_atomic(a.out, dump(model))
    print(f"wrote {a.out} ({model['trained_on']['comments']} comments, weights {model['weights_sha256'][:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
