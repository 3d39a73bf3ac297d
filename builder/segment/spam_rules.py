"""The spam scorer's fixed rules: log-odds added to the n-gram model's for what its YouTube training
data has too little of to learn. Kept apart from spam.py (which loads the model) so the training
script can measure the whole scorer on held-out videos without a model file; imports nothing.

Each weight is the evidence one such pattern gives on its own. A pattern that also occurs in
ordinary news talk (a price, a link in an argument) is weighted so it cannot make spam alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.segment.spam_features import Signals

# An earnings claim alone can be news ("nurses earn $32 an hour"); with an offer or a disguise it
# is the classic work-from-home spam.
EARNINGS = 1.5
EARNINGS_WITH_OFFER = 4.0
OBFUSCATED_EACH, OBFUSCATED_MAX = 1.5, 6.0  # one split word may be a stutter; three are a disguise
OBFUSCATED_FREE = 1
NOISE = 4.0
AD_AUTHOR = 4.0  # SEO spam: bland praise under a name that is the ad
PROMO_WITH_LINK = 1.0  # "check out my channel" + a link
REFERRAL = 2.0  # a link with the poster's referral id (?ref=…): paid per visit, never a citation
HOOK_EACH, HOOK_MAX = 0.9, 2.7  # each thing to act on is weak evidence: a link, "subscribe"
NO_HOOK = -2.0  # nothing to act on and no rule fired: ham unless the n-grams are very sure
HOOK_FULL_CHARS = 400  # past this length the hook bonus shrinks: a link in a long comment is a citation


def rule_logit(s: Signals) -> float:
    z = 0.0
    if s.earnings:
        z += EARNINGS_WITH_OFFER if (s.offers or s.obfuscated > OBFUSCATED_FREE) else EARNINGS
    z += min(OBFUSCATED_MAX, OBFUSCATED_EACH * max(0, s.obfuscated - OBFUSCATED_FREE))
    if s.noise:
        z += NOISE
    if s.ad_author:
        z += AD_AUTHOR
    if s.promos and s.links:
        z += PROMO_WITH_LINK
    if s.referrals:
        z += REFERRAL
    if not s.hooks:
        # A lone earnings claim is no reason to act: it is news talk ("the plant made $2 billion").
        return z + NO_HOOK if z <= EARNINGS else z
    hooks = s.hooks + s.author_link  # a signature link adds to a pitch, it is not one
    return z + min(HOOK_MAX, HOOK_EACH * hooks) * min(1.0, HOOK_FULL_CHARS / max(s.chars, 1))
