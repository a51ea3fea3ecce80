"""GPU memory from `nvidia-smi`, sampled in a background thread (standard library only).

    with GpuMem("llama_server") as m: ...
    m.result()  ->  {"peak_used_mib", "baseline_used_mib", "peak_delta_mib", "samples", "per_process_mib"}

`baseline_used_mib` is what the GPU held when sampling started (before the process under test
was started, when used as intended), so `peak_delta_mib` is that configuration's own footprint.
Without `nvidia-smi` (CPU runs) every figure is None.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import time


def _query(args: list[str]) -> str | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=10).stdout
    except Exception:  # noqa: BLE001
        return None


def used_mib(gpu: int = 0) -> int | None:
    out = _query(["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", str(gpu)])
    try:
        return int(out.strip().splitlines()[0]) if out else None
    except (ValueError, IndexError):
        return None


def per_process_mib() -> dict[str, int]:
    out = _query(["--query-compute-apps=pid,process_name,used_memory", "--format=csv,noheader,nounits"])
    res: dict[str, int] = {}
    for line in (out or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3:
            try:
                res[f"{parts[1].rsplit('/', 1)[-1]}[{parts[0]}]"] = int(parts[2])
            except ValueError:
                pass
    return res


def gpu_info() -> dict:
    out = _query(["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"])
    if not out:
        return {}
    first = [p.strip() for p in out.strip().splitlines()[0].split(",")]
    info = {"name": first[0], "memory_total_mib": int(first[1]) if first[1].isdigit() else first[1],
            "driver": first[2] if len(first) > 2 else None, "count": len(out.strip().splitlines())}
    full = _query([]) or ""
    for line in full.splitlines():
        if "CUDA Version" in line:
            info["cuda_driver_api"] = line.split("CUDA Version:")[-1].strip(" |")
    return info


class GpuMem:
    def __init__(self, name: str, interval: float = 0.25, gpu: int = 0):
        self.name, self.interval, self.gpu = name, interval, gpu
        self.baseline: int | None = None
        self.peak: int | None = None
        self.procs_at_peak: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "GpuMem":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.baseline = used_mib(self.gpu)
        if self.baseline is None:
            return
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            u = used_mib(self.gpu)
            if u is not None:
                self.samples += 1
                if self.peak is None or u > self.peak:
                    self.peak = u
                    n += 1
                    if n % 4 == 1:  # per-process view now and then, at a new peak
                        self.procs_at_peak = per_process_mib()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)

    def result(self) -> dict:
        delta = None if self.peak is None or self.baseline is None else self.peak - self.baseline
        return {"config": self.name, "peak_used_mib": self.peak, "baseline_used_mib": self.baseline,
                "peak_delta_mib": delta, "samples": self.samples, "per_process_mib": self.procs_at_peak or None}


if __name__ == "__main__":
    import json
    print(json.dumps({"gpu": gpu_info(), "used_mib": used_mib(), "procs": per_process_mib()}, indent=2))
    with GpuMem("probe") as m:
        time.sleep(1)
    print(m.result())
