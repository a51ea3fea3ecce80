#!/usr/bin/env python3
"""Phase C of the GPU benchmark (and the CPU W1): runs every llama.cpp-side workload against the
same model files and writes results/llama.json incrementally; `report` merges it with the
transformers baseline into the issue's JSON shape and draws the chart.

    bench.py llama  --prefix P --medlab BIN --models DIR --images DIR --results DIR [--deadline EPOCH] [--mode gpu|cpu]
    bench.py report --results DIR --out DIR --tag h200

Each workload that cannot run (a subcommand missing from this medlab, a server that does not
start, the deadline) is recorded with its reason instead of stopping the run. Standard library
only (matplotlib for the chart, when present).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
from gpumem import GpuMem, gpu_info  # noqa: E402

W1_QUESTION = loadgen.W1_QUESTION
ARTICLE_QUESTIONS = ["请判断是否存在肺实变", "请描述支气管充气征是否明显", "请评估胸腔积液量(少量/中量/大量)"]
# Where each HTTP run against one server starts in the image folder: W1 (OpenAI API) sends images
# 0.., W1 on the article API 8.., W3 16..; warm-ups take images from the end. So every measured
# request carries an image that server has not seen (like for like: no embedding cache hit).
W1_ARTICLE_OFFSET = 8
W3_OFFSET = 16
LLAMA_CPP = "b11312 (0c1e57098)"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except Exception as e:  # noqa: BLE001
        return 0, str(e)


class Server:
    """A server process with its log file; stopped with SIGINT, then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_path: Path):
        self.name, self.cmd, self.log_path = name, cmd, log_path
        self.log_f = open(log_path, "w")
        log(f"start {name}: {shlex.join(cmd)}")
        self.proc = subprocess.Popen(cmd, stdout=self.log_f, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def wait_ready(self, url: str, ok, timeout: float, bad=lambda body: None) -> tuple[bool, str]:
        t0 = time.time()
        body = ""
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                return False, f"{self.name} exited with {self.proc.returncode}: {self.tail()}"
            code, body = http_get(url)
            why = bad(body) if code == 200 else None
            if why:
                return False, f"{self.name}: {why}"
            if code == 200 and ok(body):
                log(f"{self.name} ready in {time.time() - t0:.1f} s")
                return True, body
            time.sleep(0.5)
        return False, f"{self.name} not ready after {timeout:.0f} s (last: {body[:200]}); {self.tail()}"

    def tail(self, n: int = 6) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
            return " | ".join(lines[-n:])[-1500:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=20)
            except Exception:  # noqa: BLE001
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self.log_f.close()


def start_medlab(binary: str, name: str, args: list[str], env: dict, log_path: Path, timeout: float = 300) -> tuple[Server, int]:
    """`medlab serve --port P *args` on a free port, once its health says the model is loaded; a
    server that does not get there is stopped and the run ends with why."""
    port = free_port()
    server = Server(name, [binary, "serve", "--port", str(port), *args], env, log_path)
    ready, why = server.wait_ready(f"http://127.0.0.1:{port}/api/health", lambda body: json.loads(body).get("status") == "ok",
                                   timeout=timeout)
    if not ready:
        server.stop()
        raise SystemExit(why)
    return server, port


class Bench:
    def __init__(self, a):
        self.a = a
        self.prefix = Path(a.prefix)
        self.results = Path(a.results)
        self.results.mkdir(parents=True, exist_ok=True)
        self.logs = self.results / "logs"
        self.logs.mkdir(exist_ok=True)
        self.out_path = self.results / a.result_name
        self.gpu = a.mode == "gpu"
        self.res: dict = {"mode": a.mode, "started_utc": now(), "llama_cpp": LLAMA_CPP, "errors": [], "notes": [],
                          "settings": {}, "W1": {}, "W2": {}, "W3": {}, "memory": {}, "commands": {}}
        if self.out_path.exists() and a.keep:
            try:
                old = json.loads(self.out_path.read_text())
                self.res.update({k: v for k, v in old.items() if k in ("W1", "W2", "W3", "memory", "commands")})
            except (OSError, json.JSONDecodeError):
                pass
        models = Path(a.models)
        self.model = str(models / a.model_name)
        self.mmproj = str(models / a.mmproj_name)
        self.images = a.images
        # W1 and W3 over HTTP draw from a larger folder, each run its own range (see loadgen's --image-offset).
        self.http_images = a.http_images or a.images
        self.medlab = a.medlab if a.medlab and os.access(a.medlab, os.X_OK) else None
        self.env = dict(os.environ)
        lib = str(self.prefix / "lib")
        ld = os.environ.get("MEDLAB_BENCH_LD_PATH") or lib
        self.env["LD_LIBRARY_PATH"] = ld + (":" + self.env["LD_LIBRARY_PATH"] if self.env.get("LD_LIBRARY_PATH") else "")
        self.env.setdefault("MEDLAB_BACKEND_DIR", a.backend_dir or lib)
        self.help: dict[str, str] = {}

    # ---- helpers ------------------------------------------------------------------------
    def save(self) -> None:
        self.res["updated_utc"] = now()
        tmp = self.out_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.res, indent=2, ensure_ascii=False))
        os.replace(tmp, self.out_path)

    def left(self) -> float:
        return float("inf") if self.a.deadline is None else self.a.deadline - time.time()

    def error(self, where: str, msg: str) -> None:
        log(f"ERROR {where}: {msg}")
        self.res["errors"].append(f"{where}: {msg}")
        self.save()

    def medlab_help(self, sub: str) -> str | None:
        """Help text of `medlab SUB`, or None when this medlab lacks the subcommand."""
        if sub in self.help:
            return self.help[sub]
        text = None
        if self.medlab:
            p = subprocess.run([self.medlab, sub, "--help"], capture_output=True, text=True, env=self.env, timeout=60)
            t = p.stdout + p.stderr
            # a missing subcommand makes ArgumentParser print the root help (or an error) instead
            if p.returncode == 0 and re.search(r"USAGE:\s*medlab\s+" + re.escape(sub) + r"\b", t):
                text = t
        self.help[sub] = text
        return text

    @staticmethod
    def has_opt(help_text: str | None, opt: str) -> bool:
        return opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", help_text or "")

    def model_args(self) -> list[str]:
        return ["--model", self.model, "--mmproj", self.mmproj]

    # ---- W1: medlab in process (`ask --json`) ---------------------------------------------
    def w1_ask(self) -> None:
        key = "medlab_in_process"
        if not self.medlab:
            self.res["W1"][key] = {"skipped": "no medlab binary"}
            return
        if self.medlab_help("ask") is None:
            self.res["W1"][key] = {"skipped": "this medlab has no `ask` subcommand"}
            return
        img = sorted(Path(self.images).glob("*.png"))
        runs, first_err = [], None
        reps = self.a.reps
        with GpuMem("medlab ask (in process, 1 request)") as mem:
            for i in range(reps + self.a.warmup):  # the first `warmup` runs are warm-ups
                if self.left() < 60:
                    self.res["notes"].append(f"W1 ask: stopped after {len(runs)} runs (deadline)")
                    break
                cmd = [self.medlab, "ask", "--json", *self.model_args(), "--image", str(img[i % len(img)]),
                       "--max-new-tokens", str(self.a.max_tokens), "--ignore-eos", W1_QUESTION]
                if self.a.ask_args:
                    cmd[2:2] = shlex.split(self.a.ask_args)
                self.res["commands"]["medlab_ask"] = shlex.join(cmd)
                t0 = time.perf_counter()
                p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=max(60, min(900, self.left())))
                wall = time.perf_counter() - t0
                (self.logs / f"ask-{i}.stderr.txt").write_text(p.stderr[-20000:])
                try:
                    j = parse_json_output(p.stdout)
                except (json.JSONDecodeError, ValueError):
                    first_err = first_err or f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-600:]}"
                    log(f"ask run {i} failed: {first_err}")
                    break
                t = j.get("timings", {})
                u = j.get("usage", {})
                row = {"e2e_s": t.get("total_s"), "ttft_s": t.get("first_token_s"), "image_encode_ms": t.get("image_ms"),
                       "prefill_ms": t.get("prefill_ms"), "decode_ms": t.get("decode_ms"), "decode_tps": t.get("tokens_per_s"),
                       "load_s": t.get("load_s"), "process_wall_s": wall, "tokens_out": u.get("tokens_out"),
                       "tokens_in": u.get("tokens_in"), "image_tokens": u.get("image_tokens"), "backend": j.get("backend"),
                       "gpu_layers": j.get("gpu_layers"), "warmup": i < self.a.warmup}
                log(f"ask run {i}{' (warm-up)' if i < self.a.warmup else ''}: backend {row['backend']}, e2e {row['e2e_s']}, "
                    f"image {row['image_encode_ms']} ms, prefill {row['prefill_ms']} ms, {row['decode_tps']} tok/s, "
                    f"{row['tokens_out']} tokens, load {row['load_s']}")
                runs.append(row)
                if i == 0 and self.gpu and (row["backend"] or "").lower() != "cuda":
                    self.error("W1 medlab", f"BACKEND IS {row['backend']!r}, NOT cuda: the CUDA plug-in was not found/loaded "
                               f"(MEDLAB_BACKEND_DIR={self.env.get('MEDLAB_BACKEND_DIR')}); see {self.logs}/ask-0.stderr.txt")
                    self.res["backend_check"] = "FAILED"
        measured = [r for r in runs if not r["warmup"]]
        out = {"reps": len(measured), "runs": runs, "command": self.res["commands"].get("medlab_ask")}
        if measured:
            for k in ("e2e_s", "ttft_s", "image_encode_ms", "prefill_ms", "decode_tps", "load_s", "process_wall_s"):
                out[k] = med([r[k] for r in measured])
            out["backend"] = measured[0]["backend"]
            out["tokens_out"] = measured[0]["tokens_out"]
            out["note"] = ("one process per request: model load excluded (load_s); e2e_s = ask's total_s, from the "
                           "decoded image to the last token (PNG decode/letterbox before it is not in it)")
        if first_err:
            out["error"] = first_err
        if not runs:
            out["skipped"] = "ask failed: " + (first_err or "no run")
        if runs and self.gpu and (runs[0]["backend"] or "").lower() == "cuda":
            self.res["backend_check"] = "ok: cuda"
        self.res["W1"][key] = out
        self.res["memory"]["medlab_ask"] = mem.result()
        self.save()

    # ---- llama-mtmd-cli reference (same library, in process) --------------------------------
    def w1_mtmd_cli(self) -> None:
        exe = self.prefix / "bin" / "llama-mtmd-cli"
        if not exe.exists() or self.left() < 60:
            self.res["W1"]["llama_mtmd_cli"] = {"skipped": "no llama-mtmd-cli" if not exe.exists() else "deadline"}
            return
        img = sorted(Path(self.images).glob("*.png"))
        runs = []
        for i in range(self.a.warmup + 1):
            cmd = [str(exe), "-m", self.model, "--mmproj", self.mmproj, "--image", str(img[i]), "-p", W1_QUESTION,
                   "-n", str(self.a.max_tokens), "--ignore-eos", "--temp", "0", "--perf", "-lv", "4",
                   "-c", "4096", *(["-ngl", "999"] if self.gpu else []), *shlex.split(self.a.llama_args)]
            self.res["commands"]["llama_mtmd_cli"] = shlex.join(cmd)
            p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=max(60, min(600, self.left())))
            text = p.stdout + p.stderr
            (self.logs / f"mtmd-cli-{i}.txt").write_text(text[-60000:])
            row = parse_mtmd_cli(text)
            row["exit"] = p.returncode
            runs.append(row)
            log(f"llama-mtmd-cli run {i}: {row}")
        self.res["W1"]["llama_mtmd_cli"] = {"runs": runs, "warmup_runs": self.a.warmup,
                                            **{k: runs[-1].get(k) for k in ("image_encode_ms", "image_decode_ms", "prefill_ms", "decode_tps")}}
        self.save()

    # ---- servers ----------------------------------------------------------------------------
    def start_medlab_serve(self) -> tuple[Server | None, str | None, str]:
        h = self.medlab_help("serve")
        if not self.medlab:
            return None, None, "no medlab binary"
        if h is None:
            return None, None, "this medlab has no `serve` subcommand"
        port = free_port()
        cmd = [self.medlab, "serve", *self.model_args()]
        cmd += ["--port", str(port)] if self.has_opt(h, "--port") else []
        cmd += ["--host", "127.0.0.1"] if self.has_opt(h, "--host") else []
        if self.has_opt(h, "--ctx"):
            cmd += ["--ctx", str(self.a.ctx_per_seq)]
        par = find_opt(h, ("parallel", "concurren", "slots", "max-batch"))
        if par:
            cmd += [par, str(self.a.np)]
        q = find_opt(h, ("queue", "pending", "waiting"))
        if q:
            cmd += [q, str(max(64, 2 * self.a.np))]
        to = find_opt(h, ("request-timeout", "timeout"))
        if to:
            cmd += [to, "900"]
        if self.has_opt(h, "--no-demo"):
            cmd.append("--no-demo")  # a model that fails to load must not be replaced by the demo model
        if self.a.serve_args:
            cmd += shlex.split(self.a.serve_args)
        if not self.has_opt(h, "--port"):
            return None, None, "`medlab serve` has no --port option; cannot place it"
        self.res["commands"]["medlab_serve"] = shlex.join(cmd)
        self.res["settings"]["medlab_parallel_option"] = par
        srv = Server("medlab serve", cmd, self.env, self.logs / "medlab-serve.log")

        def loaded(body: str) -> bool:
            try:
                j = json.loads(body)
            except json.JSONDecodeError:
                return True
            if isinstance(j, dict) and "ready" in j:
                return bool(j["ready"])
            s = json.dumps(j).lower()
            return not ('"loading"' in s or '"loaded": false' in s or '"ready": false' in s or '"status": "starting"' in s)
        def failed(body: str) -> str | None:
            try:
                j = json.loads(body)
            except json.JSONDecodeError:
                return None
            if isinstance(j, dict) and j.get("status") in ("error", "no_model", "failed"):
                return f"model not loaded: {body[:600]}"
            return None
        ok, body = srv.wait_ready(f"http://127.0.0.1:{port}/api/health", loaded,
                                  timeout=min(240, max(30, self.left() - 30)), bad=failed)
        if not ok:
            srv.stop()
            return None, None, body
        self.res["medlab_health"] = body[:2000]
        if self.gpu and "cuda" not in body.lower():
            self.error("medlab serve", f"/api/health does not say cuda: {body[:400]}")
            self.res["backend_check_serve"] = "FAILED"
        elif self.gpu:
            self.res["backend_check_serve"] = "ok: cuda"
        return srv, f"http://127.0.0.1:{port}", ""

    def start_llama_server(self) -> tuple[Server | None, str | None, str]:
        exe = self.prefix / "bin" / "llama-server"
        if not exe.exists():
            return None, None, f"no {exe}"
        port = free_port()
        cmd = [str(exe), "-m", self.model, "--mmproj", self.mmproj, "--host", "127.0.0.1", "--port", str(port),
               "-np", str(self.a.np), "-c", str(self.a.np * self.a.ctx_per_seq), "--no-cache-prompt", "--cache-ram", "0",
               "--no-webui", "--temp", "0", *(["-ngl", "999"] if self.gpu else []), *shlex.split(self.a.llama_args)]
        self.res["commands"]["llama_server"] = shlex.join(cmd)
        srv = Server("llama-server", cmd, self.env, self.logs / "llama-server.log")
        ok, body = srv.wait_ready(f"http://127.0.0.1:{port}/health", lambda b: True, timeout=min(240, max(30, self.left() - 30)))
        if not ok:
            srv.stop()
            return None, None, body
        return srv, f"http://127.0.0.1:{port}", ""

    def loadgen(self, url: str, api: str, levels: list[int], requests: list[int], warmup: int, name: str,
                level_warmup: bool, offset: int = 0) -> dict:
        out = self.results / f"loadgen-{name}.json"
        out.unlink(missing_ok=True)
        args = ["--api", api, "--url", url, "--images", self.http_images, "--image-offset", str(offset),
                "--max-tokens", str(self.a.max_tokens),
                "--levels", ",".join(map(str, levels)), "--requests", ",".join(map(str, requests)),
                "--warmup", str(warmup), "--out", str(out), "--timeout", "900"]
        if level_warmup:
            args.append("--level-warmup")
        if self.a.deadline is not None:
            args += ["--deadline", str(self.a.deadline - 15)]
        log(f"loadgen {name}: {' '.join(args[:12])} ...")
        loadgen.main(args)
        try:
            return json.loads(out.read_text())
        except (OSError, json.JSONDecodeError) as e:
            return {"error": f"loadgen wrote nothing: {e}"}

    def http_system(self, system: str) -> None:
        """W1 (one client) and W3 (concurrency levels) against one server."""
        if self.left() < 45:
            self.res["W1"][system] = {"skipped": "deadline"}
            return
        if system == "medlab":
            srv, url, why = self.start_medlab_serve()
        else:
            srv, url, why = self.start_llama_server()
        if srv is None:
            self.res["W1"][system] = {"skipped": why}
            for c in self.a.levels:
                self.res["W3"].setdefault(str(c), {})[f"{system}_skipped"] = why
            self.error(system, why)
            return
        try:
            with GpuMem(f"{system} server, W1 (1 client)") as mem:
                api = "openai"
                w1 = self.loadgen(url, api, [1], [self.a.http_reps], self.a.warmup, f"{system}-w1-openai", False)
                if system == "medlab" and (w1.get("error") or not (w1.get("levels", {}).get("1") or {}).get("ok")):
                    log(f"medlab OpenAI API failed ({w1.get('error')}); the article API instead")
                    self.res["notes"].append(f"medlab /v1/chat/completions failed ({w1.get('error')}); W1/W3 used /api/predict")
                    api = "article"
                    w1 = self.loadgen(url, api, [1], [self.a.http_reps], self.a.warmup, f"{system}-w1-article", False,
                                      offset=W1_ARTICLE_OFFSET)
                elif system == "medlab" and self.left() > 120:
                    # the article's own API too (not streamed): e2e only
                    art = self.loadgen(url, "article", [1], [self.a.http_reps], 0, f"{system}-w1-article", False,
                                       offset=W1_ARTICLE_OFFSET)
                    sa = summarize_w1(art)
                    for k_src, k_dst in (("image_ms", "image_encode_ms"), ("prefill_ms", "prefill_ms"),
                                         ("tokens_per_s", "server_decode_tps"), ("queue_ms", "queue_ms")):
                        v = med([(r.get("server_timings") or {}).get(k_src) for r in per_req(art)])
                        if v is not None:
                            sa[k_dst] = v
                    self.res["W1"]["medlab_article_api"] = sa
            self.res["memory"][f"{system}_w1"] = mem.result()
            s = summarize_w1(w1) | {"api": api, "url_kind": "HTTP, one client"}
            if system == "llama_server":
                s["server_prompt_ms"] = med([(r.get("server_timings") or {}).get("prompt_ms") for r in per_req(w1)])
                s["server_decode_tps"] = med([(r.get("server_timings") or {}).get("predicted_per_second") for r in per_req(w1)])
            else:
                # medlab's own timings, when its API returns them
                for k_src, k_dst in (("image_ms", "image_encode_ms"), ("image_encode_ms", "image_encode_ms"),
                                     ("prefill_ms", "prefill_ms"), ("tokens_per_s", "server_decode_tps")):
                    v = med([(r.get("server_timings") or {}).get(k_src) for r in per_req(w1)])
                    if v is not None:
                        s[k_dst] = v
            self.res["W1"][system] = s
            self.save()
            if "w3" in self.a.workloads:
                with GpuMem(f"{system} server, W3 (up to {max(self.a.levels)} clients)") as mem:
                    w3 = self.loadgen(url, api, self.a.levels, self.a.requests, 0, f"{system}-w3", True, offset=W3_OFFSET)
                self.res["memory"][f"{system}_w3"] = mem.result()
                for c, lv in (w3.get("levels") or {}).items():
                    d = self.res["W3"].setdefault(c, {})
                    if lv.get("skipped"):
                        d[f"{system}_skipped"] = lv["skipped"]
                        continue
                    d[f"{system}_tps"] = lv.get("tps")
                    d[f"{system}_p50_s"] = lv.get("e2e_p50_s")
                    d[f"{system}_p95_s"] = lv.get("e2e_p95_s")
                    d[f"{system}_ttft_p50_s"] = lv.get("ttft_p50_s")
                    d[f"{system}_inter_token_p95_s"] = lv.get("inter_token_p95_s")
                    d[f"{system}_inter_token_max_s"] = lv.get("inter_token_max_s")
                    d[f"{system}_requests"] = lv.get("ok")
                    d[f"{system}_errors"] = lv.get("errors")
                    if lv.get("first_errors"):
                        d[f"{system}_first_errors"] = lv["first_errors"][:2]
                    if lv.get("cut_by_deadline"):
                        d[f"{system}_cut_by_deadline"] = True
                if w3.get("error"):
                    self.error(f"W3 {system}", w3["error"])
                self.save()
        finally:
            srv.stop()
            self.res.setdefault("server_log_tail", {})[system] = srv.tail(12)

    # ---- W2: medlab batch ---------------------------------------------------------------------
    def w2_batch(self) -> None:
        h = self.medlab_help("batch")
        if not self.medlab or h is None:
            self.res["W2"]["medlab"] = {"skipped": "no medlab binary" if not self.medlab else "this medlab has no `batch` subcommand"}
            self.save()
            return
        if self.left() < 60:
            self.res["W2"]["medlab"] = {"skipped": "deadline"}
            return
        out = self.results / "w2-batch.jsonl"
        for p in (out, out.with_suffix(".csv")):
            if p.exists():
                p.unlink()
        cmd = [self.medlab, "batch", self.images]
        for q in ARTICLE_QUESTIONS:
            cmd += ["-q", q]
        cmd += ["-o", str(out), *self.model_args()]
        if self.has_opt(h, "--max-new-tokens"):
            cmd += ["--max-new-tokens", str(self.a.max_tokens)]
        if self.has_opt(h, "--ignore-eos"):
            cmd += ["--ignore-eos"]
        if self.has_opt(h, "--ctx"):
            cmd += ["--ctx", str(self.a.ctx_per_seq)]
        if self.a.batch_args:
            cmd += shlex.split(self.a.batch_args)
        self.res["commands"]["medlab_batch"] = shlex.join(cmd)
        log(f"W2: {shlex.join(cmd)}")
        timeout = max(30, self.left() - 20)
        t0 = time.perf_counter()
        cut = False
        with GpuMem("medlab batch (W2)") as mem, open(self.logs / "w2-batch.log", "w") as lf:
            p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                cut = True
                os.killpg(p.pid, signal.SIGINT)
                try:
                    rc = p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    rc = p.wait()
        wall = time.perf_counter() - t0
        rows = []
        if out.exists():
            for line in out.read_text(errors="replace").splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        ok = [r for r in rows if not r.get("error")]
        load_s = (self.res["W1"].get("medlab_in_process") or {}).get("load_s")
        n_img = len({r.get("filename") for r in ok})
        d = {"wall_s": wall, "exit": rc, "rows": len(rows), "ok_rows": len(ok), "error_rows": len(rows) - len(ok),
             "images_done": n_img, "cut_by_deadline": cut, "requests_planned": 20 * len(ARTICLE_QUESTIONS),
             "model_load_s_estimate": load_s, "command": shlex.join(cmd),
             "inference_time_sec_p50": med([r.get("inference_time_sec") for r in ok])}
        if ok:
            work = wall - (load_s or 0)
            d["images_per_s"] = (len(ok) / len(ARTICLE_QUESTIONS)) / work if work > 0 else None
            d["images_per_s_incl_load"] = (len(ok) / len(ARTICLE_QUESTIONS)) / wall
            d["requests_per_s"] = len(ok) / work if work > 0 else None
            d["note"] = "images_per_s excludes the model load (load_s of `ask`); 3 questions per image"
        if rc != 0 and not ok:
            d["error"] = f"exit {rc}: " + " | ".join((self.logs / "w2-batch.log").read_text(errors="replace").splitlines()[-5:])[-800:]
        if rows and len(ok) < len(rows):
            d["first_error_rows"] = [r.get("error") for r in rows if r.get("error")][:3]
        self.res["W2"]["medlab"] = d
        self.res["memory"]["medlab_batch"] = mem.result()
        log(f"W2: {d.get('ok_rows')} rows in {wall:.1f} s, {d.get('images_per_s')} images/s")
        self.save()

    def w2_article_llama_server(self) -> None:
        """The article's sequential batch script (article_batch.py) against llama-server, same images,
        questions and token budget as `medlab batch`: the W2 baseline."""
        if self.left() < 90:
            self.res["W2"]["article_script_llama_server"] = {"skipped": "deadline"}
            return
        srv, url, why = self.start_llama_server()
        if srv is None:
            self.res["W2"]["article_script_llama_server"] = {"skipped": why}
            self.error("W2 article script", why)
            return
        rows, summary = self.results / "w2-article-llama-server.jsonl", self.results / "w2-article-llama-server.json"
        cmd = [sys.executable, str(HERE / "article_batch.py"), "--url", url, "--api", "openai", "--images", self.images,
               "--out", str(rows), "--summary", str(summary), "--max-tokens", str(self.a.max_tokens), "--ignore-eos"]
        self.res["commands"]["article_script_llama_server"] = shlex.join(cmd)
        try:
            with open(self.logs / "w2-article.log", "w") as lf:
                p = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, timeout=max(30, self.left() - 20))
            d = json.loads(summary.read_text()) if summary.exists() else {"error": f"exit {p.returncode}, no summary"}
        except subprocess.TimeoutExpired:
            d = {"error": "cut by the deadline", "cut_by_deadline": True}
        finally:
            srv.stop()
        d["server"] = "llama-server, the same build and files as W1/W3 (no prompt cache)"
        self.res["W2"]["article_script_llama_server"] = d
        log(f"W2 article script vs llama-server: {d.get('rows')} rows in {d.get('wall_s')} s")
        self.save()

    def run(self) -> int:
        a = self.a
        self.res["settings"] = {"max_tokens": a.max_tokens, "reps": a.reps, "warmup": a.warmup, "http_reps": a.http_reps, "levels": a.levels,
                                "requests": a.requests, "np": a.np, "ctx_per_seq": a.ctx_per_seq,
                                "model": self.model, "mmproj": self.mmproj, "question": W1_QUESTION,
                                "images": len(list(Path(self.images).glob('*.png'))), "medlab": self.medlab,
                                "backend_dir": self.env.get("MEDLAB_BACKEND_DIR"), "workloads": a.workloads}
        self.res["gpu"] = gpu_info() if self.gpu else None
        self.res["model"] = model_info(self.model, self.mmproj)
        self.save()
        steps = {"w1": [self.w1_ask, self.w1_mtmd_cli], "http": [lambda: self.http_system("llama_server"),
                                                                  lambda: self.http_system("medlab")],
                 "w2": [self.w2_batch, self.w2_article_llama_server]}
        order = []
        if "w1" in a.workloads:
            order += steps["w1"]
        if "w1" in a.workloads or "w3" in a.workloads:
            order += steps["http"]
        if "w2" in a.workloads:
            order += steps["w2"]
        for step in order:
            try:
                step()
            except Exception as e:  # noqa: BLE001
                import traceback
                self.error(getattr(step, "__name__", "step"), f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")
        self.res["finished_utc"] = now()
        self.save()
        failed = self.res.get("backend_check") == "FAILED" or self.res.get("backend_check_serve") == "FAILED"
        if failed:
            log("!!!!!!!! medlab DID NOT RUN ON CUDA — see errors in " + str(self.out_path))
        return 2 if failed else 0


def parse_json_output(text: str) -> dict:
    """The JSON object a command printed, tolerating other lines before it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        i = text.find("\n{")
        if i < 0:
            raise
        return json.loads(text[i + 1:])


def find_opt(help_text: str | None, needles: tuple[str, ...]) -> str | None:
    """The first `--option` in a help text whose name contains one of `needles` (in that order)."""
    opts = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", help_text or "")
    for n in needles:
        for o in opts:
            if n in o:
                return o
    return None


def per_req(report: dict) -> list[dict]:
    return ((report.get("levels") or {}).get("1") or {}).get("per_request") or []


def summarize_w1(report: dict) -> dict:
    lv = (report.get("levels") or {}).get("1") or {}
    if not lv.get("ok"):
        return {"skipped": report.get("error") or lv.get("skipped") or f"no successful request: {lv.get('first_errors')}"}
    return {"e2e_s": lv.get("e2e_p50_s"), "ttft_s": lv.get("ttft_p50_s"), "decode_tps": lv.get("decode_tps_p50"),
            "e2e_min_s": lv.get("e2e_min_s"), "e2e_max_s": lv.get("e2e_max_s"), "reps": lv.get("ok"),
            "tokens_out": lv.get("tokens_per_request_median"), "tokens_source": lv.get("tokens_source"),
            "errors": lv.get("errors"), "backend": lv.get("backend")}


def parse_mtmd_cli(text: str) -> dict:
    row: dict = {}
    m = re.findall(r"(?:slice encoded|batch encoding done) in (\d+) ms", text)
    if m:
        row["image_encode_ms"] = float(m[-1])
    m = re.findall(r"decoded \(batch \d+/\d+\) in (\d+) ms", text)
    if m:
        row["image_decode_ms"] = float(m[-1])
    m = re.search(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens", text)
    if m:
        row["prefill_ms"] = float(m.group(1))
        row["prefill_tokens"] = int(m.group(2))
    m = re.search(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs.*?([\d.]+) tokens per second", text)
    if m:
        row["decode_tps"] = float(m.group(3))
        row["decode_tokens"] = int(m.group(2))
    return row


def model_info(model: str, mmproj: str) -> dict:
    info = {"name": "MedGemma-1.5-4B-shaped, random weights", "text": os.path.basename(model),
            "mmproj": os.path.basename(mmproj)}
    for k, p in (("text_bytes", model), ("mmproj_bytes", mmproj)):
        try:
            info[k] = os.path.getsize(p)
        except OSError:
            info[k] = None
    gm = Path(model).parent / "gen_model.json"
    ms = Path(model).parent / "medgemma-shaped.json"
    if ms.exists() and not gm.exists():
        try:
            files = json.loads(ms.read_text()).get("files", {})
            t = files.get("medgemma-shaped-f16.gguf", {})
            v = files.get("mmproj-medgemma-shaped-f16.gguf", {})
            info["text_config"] = {k: t.get(k) for k in ("n_embd", "n_layer", "n_head", "n_head_kv", "head_dim", "n_ff")}
            info["vision_config"] = {k: v.get(k) for k in ("image_size", "patch_size", "vision_n_embd", "vision_n_ff",
                                                            "vision_n_layer", "vision_n_head", "tokens_per_image")}
            info["n_vocab"] = t.get("n_vocab")
            info["generator"] = "scripts/gen_medgemma_shaped.py"
        except (json.JSONDecodeError, AttributeError):
            pass
    if gm.exists():
        try:
            g = json.loads(gm.read_text())
            info.update({"text_config": g.get("text_config"), "vision_config": g.get("vision_config"),
                         "n_vocab": g.get("n_vocab"), "tiny": g.get("tiny")})
        except json.JSONDecodeError:
            pass
    info["text_quant"] = "Q4_K_M" if "Q4_K_M" in model else ("F16" if "f16" in model.lower() else None)
    info["mmproj_quant"] = "F16"
    return info


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ---- report ---------------------------------------------------------------------------------------
def ratio(a, b):
    return round(a / b, 3) if a is not None and b not in (None, 0) else None


def build_report(results: Path, tag: str) -> dict:
    def load(name):
        p = results / name
        try:
            return json.loads(p.read_text()) if p.exists() else {}
        except json.JSONDecodeError:
            return {}
    L, H = load("llama.json"), load("hf.json")
    gpu = L.get("gpu") or H.get("gpu") or {}
    w1m_http = L.get("W1", {}).get("medlab") or {}
    w1m_ip = L.get("W1", {}).get("medlab_in_process") or {}
    w1l = L.get("W1", {}).get("llama_server") or {}
    cli = L.get("W1", {}).get("llama_mtmd_cli") or {}
    hw1 = H.get("W1") or {}

    def pick(d: dict, k: str, *fallbacks: tuple[dict, str]):
        v = d.get(k)
        if v is None:
            for fd, fk in fallbacks:
                if fd.get(fk) is not None:
                    return fd.get(fk)
        return v

    art = L.get("W1", {}).get("medlab_article_api") or {}
    medlab = {"e2e_s": w1m_http.get("e2e_s"), "ttft_s": w1m_http.get("ttft_s"),
              "image_encode_ms": pick(w1m_http, "image_encode_ms", (art, "image_encode_ms"), (w1m_ip, "image_encode_ms")),
              "prefill_ms": pick(w1m_http, "prefill_ms", (art, "prefill_ms"), (w1m_ip, "prefill_ms")),
              "decode_tps": pick(w1m_http, "server_decode_tps", (art, "server_decode_tps"), (w1m_http, "decode_tps"),
                                 (w1m_ip, "decode_tps")),
              "timings_source": "server timings of /api/predict (same server), else `ask --json`",
              "api": w1m_http.get("api"), "tokens_out": w1m_http.get("tokens_out"), "in_process": {k: w1m_ip.get(k) for k in
                                                         ("e2e_s", "ttft_s", "image_encode_ms", "prefill_ms", "decode_tps", "load_s", "backend", "reps")}}
    if w1m_http.get("skipped"):
        medlab["http_skipped"] = w1m_http["skipped"]
    if w1m_ip.get("skipped") or w1m_ip.get("error"):
        medlab["in_process_error"] = w1m_ip.get("skipped") or w1m_ip.get("error")
    if L.get("W1", {}).get("medlab_article_api"):
        medlab["article_api"] = L["W1"]["medlab_article_api"]
    enc_l = cli.get("image_encode_ms")
    prompt_ms = w1l.get("server_prompt_ms")
    llama = {"e2e_s": w1l.get("e2e_s"), "ttft_s": w1l.get("ttft_s"), "image_encode_ms": enc_l,
             "prefill_ms": (prompt_ms - enc_l) if prompt_ms is not None and enc_l is not None and prompt_ms > enc_l else prompt_ms,
             "decode_tps": w1l.get("server_decode_tps") or w1l.get("decode_tps"),
             "server_prompt_ms": prompt_ms, "reps": w1l.get("reps"), "tokens_out": w1l.get("tokens_out"),
             "note": "image_encode_ms from llama-mtmd-cli (same build and files); prefill_ms = server prompt_ms - image encode"}
    if w1l.get("skipped"):
        llama["skipped"] = w1l["skipped"]
    trans = {k: hw1.get(k) for k in ("e2e_s", "ttft_s", "image_encode_ms", "prefill_ms", "decode_tps", "reps")} if hw1 else \
        {"skipped": "; ".join(H.get("errors") or []) or "transformers baseline not run"}
    w3 = {}
    levels = sorted({*L.get("W3", {}).keys(), *(H.get("W3") or {}).keys()}, key=lambda s: int(s))
    for c in levels:
        d = dict(L.get("W3", {}).get(c, {}))
        hc = (H.get("W3") or {}).get(c) or {}
        d["transformers_tps"] = hc.get("tps")
        d["transformers_p50_s"] = hc.get("p50_s")
        d["transformers_p95_s"] = hc.get("p95_s")
        if hc.get("skipped"):
            d["transformers_skipped"] = hc["skipped"]
        for k in ("medlab_tps", "llama_server_tps", "medlab_p50_s", "medlab_p95_s"):
            d.setdefault(k, None)
        d["medlab_over_llama_server_tps"] = ratio(d.get("medlab_tps"), d.get("llama_server_tps"))
        d["medlab_over_transformers_tps"] = ratio(d.get("medlab_tps"), d.get("transformers_tps"))
        w3[c] = d
    mem = {k: v for k, v in (L.get("memory") or {}).items()}
    for k, v in (H.get("memory") or {}).items():
        mem[f"transformers_{k}"] = v
    rep = {
        "gpu": (gpu.get("name") + f" ({gpu.get('memory_total_mib')} MiB)") if gpu.get("name") else ("cpu" if L.get("mode") == "cpu" else None),
        "gpu_info": gpu or None,
        "host": {"cpus": os.cpu_count(), "machine": tag},
        "date": datetime.date.today().isoformat(),
        "llama_cpp": LLAMA_CPP,
        "model": L.get("model") or {},
        "settings": L.get("settings"),
        "W1": {"medlab": medlab, "llama_server": llama, "transformers": trans, "llama_mtmd_cli": cli or None},
        "W2": L.get("W2") or {"medlab": {"skipped": "not run"}},
        "W3": w3,
        "gpu_memory": mem,
        "transformers_info": H.get("model"),
        "ratios": {
            "W1_e2e_medlab_over_llama_server": ratio(medlab["e2e_s"], llama["e2e_s"]),
            "W1_e2e_transformers_over_medlab (speed-up)": ratio(trans.get("e2e_s"), medlab["e2e_s"]),
            "W1_e2e_transformers_over_llama_server": ratio(trans.get("e2e_s"), llama["e2e_s"]),
            "W1_in_process_medlab_over_llama_mtmd_cli_decode_tps": ratio(w1m_ip.get("decode_tps"), cli.get("decode_tps")),
            **{f"W3_{c}_tps_medlab_over_llama_server": w3[c].get("medlab_over_llama_server_tps") for c in w3},
            **{f"W3_{c}_tps_medlab_over_transformers": w3[c].get("medlab_over_transformers_tps") for c in w3},
        },
        "targets": {},
        "backend_check": {"ask": L.get("backend_check"), "serve": L.get("backend_check_serve")},
        "commands": L.get("commands"),
        "errors": (L.get("errors") or []) + [f"transformers: {e}" for e in (H.get("errors") or [])],
        "notes": (L.get("notes") or []) + (H.get("notes") or []),
    }
    toks = {k: v for k, v in (("medlab", medlab.get("tokens_out")), ("llama_server", llama.get("tokens_out")),
                              ("medlab_in_process", w1m_ip.get("tokens_out")), ("transformers", hw1.get("tokens_out"))) if v is not None}
    want = (L.get("settings") or {}).get("max_tokens")
    if want and any(v != want for v in toks.values()):
        rep["notes"].append(f"W1 generated-token counts differ from the {want} asked for: {toks} (ignore_eos not honoured?)")
    w2 = rep["W2"]
    w2m, w2a = w2.get("medlab") or {}, w2.get("article_script_llama_server") or {}
    # medlab batch's wall includes loading the model; llama-server was loaded before the script ran.
    # The load of the same binary and files, from W1's `ask` (W2 may have run before W1 in a split run).
    load_s = w2m.get("model_load_s_estimate") or w1m_ip.get("load_s")
    if w2m.get("wall_s") and load_s:
        w2m["model_load_s_used"] = load_s
    w2m_work = (w2m.get("wall_s") - (load_s or 0)) if w2m.get("wall_s") else None
    same_rows = w2m.get("ok_rows") and w2m.get("ok_rows") == w2a.get("rows")
    rep["ratios"]["W2_article_script_llama_server_over_medlab_batch (speed-up, load excluded)"] = \
        ratio(w2a.get("wall_s"), w2m_work) if same_rows else None
    rep["ratios"]["W2_article_script_llama_server_over_medlab_batch (speed-up, load included)"] = \
        ratio(w2a.get("wall_s"), w2m.get("wall_s")) if same_rows else None
    rep["targets"] = targets(rep)
    return rep


def targets(rep: dict) -> dict:
    """Issue #21's targets, each met or not with its figure (None: the figure is missing)."""
    r, w1, w3 = rep["ratios"], rep["W1"], rep["W3"]

    def row(figure, ok):
        return {"figure": figure, "met": None if figure is None else ok(figure)}

    def w3_row(c, tps_min, p95_max=None):
        d = w3.get(str(c)) or {}
        tps, p95 = d.get("medlab_tps"), d.get("medlab_p95_s")
        if tps is None or (p95_max is not None and p95 is None):
            return {"figure": None, "met": None}
        fig = {"tokens_per_s": tps, "p95_s": p95}
        return {"figure": fig, "met": tps >= tps_min and (p95_max is None or p95 <= p95_max)}

    return {
        "W1 over HTTP <= 0.75x llama-server's time": row(r.get("W1_e2e_medlab_over_llama_server"), lambda x: x <= 0.75),
        "W1 image encode <= 60 ms": row(w1["medlab"].get("image_encode_ms"), lambda x: x <= 60),
        "W1 >= 10x faster than transformers": row(r.get("W1_e2e_transformers_over_medlab (speed-up)"), lambda x: x >= 10),
        "W2 >= 4x faster than the article's script against llama-server (load excluded)":
            row(r.get("W2_article_script_llama_server_over_medlab_batch (speed-up, load excluded)"), lambda x: x >= 4),
        "W3 at 16 clients >= 2,000 tok/s with p95 <= 4 s": w3_row(16, 2000, 4.0),
        "W3 at 64 clients >= 3,000 tok/s": w3_row(64, 3000),
    }


def draw(rep: dict, path: Path) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001
        return f"no chart: matplotlib unavailable ({e})"
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2), gridspec_kw={"width_ratios": [1.25, 1.25, 1]})
    colors = {"medlab": "#1f5fa8", "medlab (in process)": "#6f9fd8", "llama-server": "#e08a1e", "transformers bf16": "#7a7a7a"}
    # W1 latency bars (TTFT hatched inside the e2e bar)
    w1 = rep["W1"]
    bars = [("medlab", w1["medlab"].get("e2e_s"), w1["medlab"].get("ttft_s")),
            ("medlab (in process)", w1["medlab"]["in_process"].get("e2e_s"), w1["medlab"]["in_process"].get("ttft_s")),
            ("llama-server", w1["llama_server"].get("e2e_s"), w1["llama_server"].get("ttft_s")),
            ("transformers bf16", w1["transformers"].get("e2e_s"), w1["transformers"].get("ttft_s"))]
    ax = axes[0]
    for i, (name, e2e, ttft) in enumerate(bars):
        if e2e is None:
            ax.text(i, 0, "not run", ha="center", va="bottom", fontsize=8, rotation=90)
            continue
        ax.bar(i, e2e, color=colors[name])
        if ttft is not None:
            ax.bar(i, ttft, color="white", alpha=0.55, hatch="//", edgecolor=colors[name])
        ax.text(i, e2e, f"{e2e:.2f} s", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=15, fontsize=9)
    ax.set_ylabel("seconds")
    ax.set_title(f"W1: one request, {rep['settings'] and rep['settings'].get('max_tokens')} tokens forced\n"
                 "(end to end; hatched = time to first token)", fontsize=10)
    # W3 throughput vs concurrency
    ax = axes[1]
    cs = sorted(int(c) for c in rep["W3"])
    for key, name in (("medlab_tps", "medlab"), ("llama_server_tps", "llama-server"), ("transformers_tps", "transformers bf16")):
        pts = [(c, rep["W3"][str(c)].get(key)) for c in cs if rep["W3"][str(c)].get(key) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colors[name], label=name)
            for c, v in pts:
                ax.annotate(f"{v:.0f}", (c, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    if cs:
        ax.set_xscale("log", base=2)
        ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrent clients (transformers: batch size)")
    ax.set_ylabel("generated tokens / s (all clients)")
    ax.set_title("W3: throughput vs concurrency", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    # GPU memory
    ax = axes[2]
    # A server's sampling starts once it has loaded, so its own figure is the process's, not the delta.
    mem = [(k, max([v["peak_delta_mib"], *(v.get("per_process_mib") or {}).values()]))
           for k, v in (rep.get("gpu_memory") or {}).items()
           if isinstance(v, dict) and v.get("peak_delta_mib") is not None and "process" not in k]
    if mem:
        ax.barh(range(len(mem)), [m[1] / 1024 for m in mem], color="#4a8f6a")
        ax.set_yticks(range(len(mem)), [m[0] for m in mem], fontsize=7)
        for i, (_, v) in enumerate(mem):
            ax.text(v / 1024, i, f" {v / 1024:.1f}", va="center", fontsize=7)
        ax.set_xlabel("GiB (peak, nvidia-smi: above idle, or the process's own)")
    else:
        ax.text(0.5, 0.5, "no GPU memory figures", ha="center", transform=ax.transAxes)
    ax.set_title("GPU memory per configuration", fontsize=10)
    fig.suptitle(f"MedGemma-1.5-4B-shaped (Q4_K_M + F16 projector; transformers bf16) on {rep.get('gpu')} — "
                 f"llama.cpp {rep['llama_cpp']} — {rep['date']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("llama")
    b.add_argument("--prefix", required=True)
    b.add_argument("--medlab", default="")
    b.add_argument("--models", required=True)
    b.add_argument("--model-name", default="medgemma-shaped-Q4_K_M.gguf")
    b.add_argument("--mmproj-name", default="mmproj-medgemma-shaped-f16.gguf")
    b.add_argument("--images", required=True)
    b.add_argument("--http-images", default="", help="a larger folder for W1/W3 over HTTP (default: --images)")
    b.add_argument("--results", required=True)
    b.add_argument("--result-name", default="llama.json")
    b.add_argument("--backend-dir", default=None)
    b.add_argument("--mode", choices=["gpu", "cpu"], default="gpu")
    b.add_argument("--deadline", type=float, default=None)
    b.add_argument("--workloads", default="w1,w2,w3")
    b.add_argument("--max-tokens", type=int, default=384)
    b.add_argument("--reps", type=int, default=3)
    b.add_argument("--http-reps", type=int, default=5)
    b.add_argument("--warmup", type=int, default=1, help="warm-up runs/requests before each W1 measurement")
    b.add_argument("--levels", default="1,4,16,32")
    b.add_argument("--requests", default="4,8,32,32")
    b.add_argument("--np", type=int, default=32)
    b.add_argument("--ctx-per-seq", type=int, default=2048)
    b.add_argument("--keep", action="store_true", help="start from an earlier llama.json's results")
    b.add_argument("--ask-args", default=os.environ.get("BENCH_ASK_ARGS", ""))
    b.add_argument("--serve-args", default=os.environ.get("BENCH_SERVE_ARGS", ""))
    b.add_argument("--batch-args", default=os.environ.get("BENCH_BATCH_ARGS", ""))
    b.add_argument("--llama-args", default=os.environ.get("BENCH_LLAMA_ARGS", ""))
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--tag", default="h200")
    r.add_argument("--date", default=datetime.date.today().isoformat())
    a = ap.parse_args()
    if a.cmd == "llama":
        a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
        a.levels = [int(x) for x in a.levels.split(",") if x.strip()]
        a.requests = [int(x) for x in a.requests.split(",") if x.strip()]
        if len(a.requests) == 1:
            a.requests *= len(a.levels)
        return Bench(a).run()
    rep = build_report(Path(a.results), a.tag)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jp = out / f"{a.date}-{a.tag}.json"
    jp.write_text(json.dumps(rep, indent=2, ensure_ascii=False))
    err = draw(rep, out / f"{a.date}-{a.tag}.png")
    if err:
        log(err)
    print_summary(rep)
    log(f"wrote {jp}" + ("" if err else f" and {out / f'{a.date}-{a.tag}.png'}"))
    return 0


def print_summary(rep: dict) -> None:
    def f(x, n=2):
        return "-" if x is None else (f"{x:.{n}f}" if isinstance(x, (int, float)) else str(x))
    w1 = rep["W1"]
    print("\n== W1 (one request) ==")
    print(f"{'system':<22}{'e2e_s':>8}{'ttft_s':>8}{'enc_ms':>8}{'pre_ms':>8}{'tok/s':>8}")
    for name, d in (("medlab (HTTP)", w1["medlab"]), ("medlab (in process)", w1["medlab"]["in_process"]),
                    ("llama-server (HTTP)", w1["llama_server"]), ("transformers bf16", w1["transformers"])):
        print(f"{name:<22}{f(d.get('e2e_s')):>8}{f(d.get('ttft_s')):>8}{f(d.get('image_encode_ms'), 0):>8}"
              f"{f(d.get('prefill_ms'), 0):>8}{f(d.get('decode_tps'), 1):>8}")
    print("== W3 (aggregate tokens/s; medlab p50/p95 s) ==")
    for c, d in rep["W3"].items():
        print(f"  c={c:>2}: medlab {f(d.get('medlab_tps'), 0)}  llama-server {f(d.get('llama_server_tps'), 0)}  "
              f"transformers {f(d.get('transformers_tps'), 0)}  medlab p50/p95 {f(d.get('medlab_p50_s'))}/{f(d.get('medlab_p95_s'))}"
              f"  time between tokens p95 medlab {f(d.get('medlab_inter_token_p95_s'), 3)} llama-server "
              f"{f(d.get('llama_server_inter_token_p95_s'), 3)}")
    w2 = (rep.get("W2") or {}).get("medlab") or {}
    print(f"== W2: {w2.get('ok_rows')} rows, wall {f(w2.get('wall_s'))} s, {f(w2.get('images_per_s'), 3)} images/s "
          f"{w2.get('skipped') or w2.get('error') or ''}")
    w2a = (rep.get("W2") or {}).get("article_script_llama_server") or {}
    print(f"   article script -> llama-server: {w2a.get('rows')} rows, wall {f(w2a.get('wall_s'))} s "
          f"{w2a.get('skipped') or w2a.get('error') or ''}")
    print("== ratios ==")
    for k, v in rep["ratios"].items():
        print(f"  {k}: {v}")
    print("== targets (#21) ==")
    for k, v in rep["targets"].items():
        print(f"  {'met' if v['met'] else 'NOT met' if v['met'] is False else 'no figure'}: {k}: {v['figure']}")
    if rep["errors"]:
        print("== errors ==")
        for e in rep["errors"]:
            print("  " + e[:400])


if __name__ == "__main__":
    sys.exit(main())
