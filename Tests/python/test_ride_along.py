"""A request that arrives while others stream is not prefilled alone, stopping them: its prompt
rides along in their decode steps (text in runs, each image whole as embedding rows, the streams'
tokens then given as embeddings too). On a shared KV cache the trace shows steps that carry both
a stream and a rider, the riders' answers are those of the same requests prefilled alone
(`MEDLAB_RIDE_ALONG=0`, but for near-ties, see schedules.py), and a second question about an
image copies the first one's `[system + image]` and rides with its own text only."""
import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from schedules import assert_same_but_for_near_ties
from test_batch import TINY, png
from test_server_fixture import Server

STEP = re.compile(r"step n=(\d+) decode=[\d.]+ sample=[\d.]+ ride=(\d+) piece=(\w+)")
PREFILL = re.compile(r"prefill enc=[\d.]+ prefill=[\d.]+ cached=(\d+) .* active=(\d+) kv_cells=\d+ encoding=[01] ride=([01])")


def ask(url, image, question):
    response = requests.post(url + "/api/predict", timeout=300, json={
        "image": base64.b64encode(image).decode(), "question": question, "max_new_tokens": 10, "ignore_eos": True})
    assert response.status_code == 200, response.text
    return response.json()


def riders(ride):
    """Answers of five image questions asked while a long text answer streams (two images, then
    two questions about a third at once, then one about two images), and the server's trace."""
    server = Server(*TINY, "--no-record", "--parallel", "4", "--kv-cache", "shared",
                    env={"MEDLAB_TRACE": "1", "MEDLAB_VISION_WARMUP": "1", "MEDLAB_RIDE_ALONG": "1" if ride else "0"})
    try:
        long = requests.post(server.url + "/v1/chat/completions", stream=True, timeout=300, json={
            "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 8000, "ignore_eos": True, "stream": True})
        assert long.status_code == 200
        lines = long.iter_lines()  # kept: a dropped iterator closes the connection, cancelling the stream
        for line in lines:  # a state, not a time: the stream has produced a token
            if line.startswith(b"data:") and json.loads(line[5:])["choices"][0]["delta"].get("content"):
                break
        answers = {n: ask(server.url, png(40 + 4 * n, 36, seed=n), "What is shown?") for n in range(2)}
        # Two questions about one image at once: the second waits for the first's ride, then copies.
        image = png(48, 36, seed=2)
        with ThreadPoolExecutor(2) as pool:
            both = list(pool.map(lambda question: ask(server.url, image, question), ["What is shown?", "Is there an effusion?"]))
        answers.update({2: both[0], 3: both[1]})
        # A prior and a current image in one question: two image runs, three text runs.
        pair = requests.post(server.url + "/api/predict", timeout=300, json={
            "images": [base64.b64encode(png(40, 36, seed=7)).decode(), base64.b64encode(png(44, 36, seed=8)).decode()],
            "question": "Compare the two.", "max_new_tokens": 10, "ignore_eos": True})
        assert pair.status_code == 200, pair.text
        answers[4] = pair.json()
        long.close()
        return answers, server.log()
    finally:
        server.stop()


def test_a_request_rides_along_with_running_streams():
    rode, trace = riders(ride=True)
    alone, alone_trace = riders(ride=False)
    # Every rider's prefill line says it rode, beside the running stream; steps carried both.
    prefills = [tuple(map(int, m)) for m in PREFILL.findall(trace)][1:]  # the first is the long text request's
    assert len(prefills) == 5 and all(active >= 1 and ride == 1 for _, active, ride in prefills), prefills
    steps = [(int(n), int(ride), piece) for n, ride, piece in STEP.findall(trace)]
    assert {piece for n, ride, piece in steps if n >= 1 and ride > 0} == {"text_before", "image", "text_after"}
    # One of the two questions about one image copied the other's prefix and rode with its own text only.
    assert sorted(cached > 0 for cached, _, _ in prefills) == [False, False, False, False, True]
    # Without riding along every prefill ran alone.
    assert all(ride == 0 for *_, ride in map(lambda m: tuple(map(int, m)), PREFILL.findall(alone_trace)))
    assert all(ride == "0" and piece == "none" for _, ride, piece in STEP.findall(alone_trace))
    for answers in rode, alone:
        assert all(a["finish_reason"] == "length" and a["usage"]["completion_tokens"] == 10 for a in answers.values()), answers
    assert_same_but_for_near_ties(rode, alone, most_differing=1)


def test_a_long_prompt_rides_in_runs_and_a_cancelled_rider_gives_its_slot_back():
    """A text prompt longer than a step's room rides in several runs; a rider whose client goes
    away is cancelled wherever it is (preparing, riding or decoding) and its slot serves the next."""
    server = Server(*TINY, "--no-record", "--parallel", "2", "--kv-cache", "shared", env={"MEDLAB_TRACE": "1"})
    try:
        long = requests.post(server.url + "/v1/chat/completions", stream=True, timeout=300, json={
            "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 8000, "ignore_eos": True, "stream": True})
        lines = long.iter_lines()
        for line in lines:
            if line.startswith(b"data:") and json.loads(line[5:])["choices"][0]["delta"].get("content"):
                break
        question = "Describe the pleura. " * 300  # ~1,500 tokens: three or more runs of at most 511
        answer = requests.post(server.url + "/api/predict", timeout=300, json={
            "question": question, "max_new_tokens": 4, "ignore_eos": True}).json()
        assert answer["finish_reason"] == "length" and answer["usage"]["completion_tokens"] == 4, answer
        rides = [(int(n), int(ride), piece) for n, ride, piece in STEP.findall(server.log()) if int(ride) > 0]
        assert len(rides) >= 3 and all(n == 1 and ride <= 511 and piece == "text_before" for n, ride, piece in rides), rides
        assert sum(ride for _, ride, _ in rides) == answer["usage"]["prompt_tokens"]
        # Gone while riding (or just before): the slot comes back, so the next rider is served.
        ridden = len(rides)
        gone = requests.post(server.url + "/v1/chat/completions", stream=True, timeout=300, json={
            "messages": [{"role": "user", "content": question * 4}], "max_tokens": 2000, "stream": True})
        deadline = time.time() + 300  # state waits: the prompt (~6,000 tokens, 12 runs) has begun to ride ...
        while len([m for m in STEP.findall(server.log()) if int(m[1]) > 0]) <= ridden and time.time() < deadline:
            time.sleep(0.01)
        gone.close()
        while "done reason=cancelled" not in server.log() and time.time() < deadline:  # ... and the engine saw the client go
            time.sleep(0.01)
        assert "done reason=cancelled" in server.log()
        after = requests.post(server.url + "/api/predict", timeout=300, json={"question": "Is there an effusion?", "max_new_tokens": 3})
        assert after.status_code == 200 and after.json()["usage"]["completion_tokens"] >= 1, after.text
        long.close()
    finally:
        server.stop()


def burst(ride):
    """Six image questions sent at once to an idle server; its trace's events, in order: ("step",)
    or ("prefill", active, ride)."""
    server = Server(*TINY, "--no-record", "--parallel", "6", "--kv-cache", "shared",
                    env={"MEDLAB_TRACE": "1", "MEDLAB_VISION_WARMUP": "1", "MEDLAB_RIDE_ALONG": "1" if ride else "0"})
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda n: ask(server.url, png(36 + 4 * n, 36, seed=20 + n), "What is shown?"), range(6)))
        assert all(a["usage"]["completion_tokens"] == 10 for a in answers), answers
        events = []
        for line in server.log().splitlines():
            if prefill := PREFILL.search(line):
                events.append(("prefill", int(prefill[2]), int(prefill[3])))
            elif STEP.search(line):
                events.append(("step",))
        assert sum(e[0] == "prefill" for e in events) == 6, events
        return events
    finally:
        server.stop()


def test_a_burst_into_an_idle_server_is_not_prefilled_whole_before_its_first_token():
    """The first request of a burst is prefilled at once; the others ride along in its steps, or
    (riding off) are prefilled one per step. Decided once per admission pass, a burst whose images
    came one prefill apart was prefilled whole while the first request waited (1.9 s at 16 clients
    on an H100)."""
    for ride in True, False:
        events = burst(ride)
        for before, after in zip(events, events[1:]):
            # A prefill alone right after one that already stalled a stream, no step between, is that convoy.
            assert not (before[0] == after[0] == "prefill" and before[2] == after[2] == 0 and before[1] > 0), (ride, events)
        if ride:
            assert any(e[0] == "prefill" and e[2] == 1 for e in events), events
