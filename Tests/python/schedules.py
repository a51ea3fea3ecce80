"""Comparing answers of runs whose batches were composed differently. llama.cpp's CPU kernels pick
their path by the batch's shape (flash attention splits the KV cells among threads for a lone
query over 512 cells or more, and tiles queries once there are enough of them), so the same
request decoded beside other streams is rounded differently, and where the random test model's
two likeliest tokens are nearly tied a later token can flip. What such a run must still keep:
every row, and each answer's opening, which comes from the request's own image and question (a
prefill given another image, or missing a piece, opens otherwise)."""


def opening(answer, words=2):
    """The first words of an answer."""
    return answer.split()[:words]


def assert_same_but_for_near_ties(rows, other, most_differing=2):
    """`rows` and `other` (key -> batch row) answer the same requests: the same keys, the same
    openings, and at most `most_differing` answers that part later."""
    assert rows.keys() == other.keys()
    for key, row in rows.items():
        assert opening(row["answer"]) == opening(other[key]["answer"]), (key, row["answer"], other[key]["answer"])
    differing = [key for key in rows if rows[key]["answer"] != other[key]["answer"]]
    assert len(differing) <= most_differing, differing
