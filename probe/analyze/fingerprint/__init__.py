"""Which product wrote a reply, a header or a queue id: knowledge and matching (pure).

`types` holds the vocabulary, `knowledge` loads and validates `probe/data/fingerprints_*.toml`,
`observe` turns a conversation or a header block into `Observations`, `signature` applies one
signature to them and `match` names the products; `replies` judges one reply line (which
products can have written it: `could_write`, `reply_writers`). This module is the package's
interface: `match_products(shipped_knowledge(), observe_conversation(conv))`.
"""

from probe.analyze.fingerprint.knowledge import shipped_knowledge
from probe.analyze.fingerprint.match import (
    UNKNOWN,
    banner_product,
    id_format,
    match_products,
    same_id_format,
)
from probe.analyze.fingerprint.observe import combine, observe_conversation, observe_headers
from probe.analyze.fingerprint.replies import Authorship, could_write, reply_writers, why_not
from probe.analyze.fingerprint.types import (
    Clue,
    Kind,
    Knowledge,
    Observations,
    Product,
    ProductMatch,
    ReplyHabits,
    ReplyStage,
    Role,
    Signature,
    Specificity,
    reply_stage,
)

__all__ = [
    "UNKNOWN",
    "Authorship",
    "Clue",
    "Kind",
    "Knowledge",
    "Observations",
    "Product",
    "ProductMatch",
    "ReplyHabits",
    "ReplyStage",
    "Role",
    "Signature",
    "Specificity",
    "banner_product",
    "combine",
    "id_format",
    "could_write",
    "match_products",
    "observe_conversation",
    "observe_headers",
    "reply_stage",
    "reply_writers",
    "same_id_format",
    "shipped_knowledge",
    "why_not",
]
