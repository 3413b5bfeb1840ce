"""Translation quality: BLEU and chrF from sacrebleu, with every reference of a source.

Rows of a test file that share one source sentence are that sentence's alternative references,
so they are grouped first: each distinct source is translated once and scored against all its
references (sacrebleu takes reference streams of equal length, with ``None`` where a source
has fewer references than the most). Chinese output is scored with sacrebleu's "zh" tokenizer
(one token per character), everything else with "13a".
"""

from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF


def group_references(sources: Sequence[str], references: Sequence[str]
                     ) -> tuple[list[str], list[list[str]]]:
    """→ distinct sources in first-seen order, and the references of each."""
    if len(sources) != len(references):
        raise ValueError(f"{len(sources)} sources but {len(references)} references; give one "
                         "reference per source row.")
    grouped: dict[str, list[str]] = {}
    for source, reference in zip(sources, references):
        grouped.setdefault(source, []).append(reference)
    return list(grouped), list(grouped.values())


def bleu_tokenizer(target_language: str) -> str:
    return "zh" if target_language == "zh" else "13a"


def corpus_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                  target_language: str) -> dict:
    """BLEU and chrF of one hypothesis per source against its list of references."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} sources.")
    if not hypotheses:
        return {"bleu": 0.0, "chrf": 0.0, "sources": 0, "references": 0}
    most = max(len(r) for r in references)
    streams = [[r[i] if i < len(r) else None for r in references] for i in range(most)]
    bleu = BLEU(tokenize=bleu_tokenizer(target_language))
    # chrF works on characters, so Chinese needs no tokenizer; its default treats whitespace
    # as noise, which suits both languages
    chrf = CHRF()
    hyps = list(hypotheses)
    b = bleu.corpus_score(hyps, streams)
    return {"bleu": round(b.score, 2), "chrf": round(chrf.corpus_score(hyps, streams).score, 2),
            "sources": len(hyps), "references": sum(len(r) for r in references),
            "signature": str(bleu.get_signature())}
