"""Drives the project's tslab kernel through what a reader does to a training cell.

Interrupts it several times mid-training, then shuts a kernel down and restarts another one
while they train. Prints one JSON object with what happened; test/kernel.test.ts asserts on it.
usage: kernel_lifecycle.py INTERRUPTS SEED
"""
import json
import os
import random
import shutil
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = """
import { useBackend, tf } from 'batchnorm-ts/runtime';
import { PROFILE_SPECS } from 'batchnorm-ts/train';
import { trainWithProgress } from 'batchnorm-ts/notebook';
const backend = await useBackend('auto');
const longRun = { ...PROFILE_SPECS.quick, epochs: 400 };
"""
TRAIN = "await trainWithProgress(longRun, backend.name);"


STARTED = []


def start(stderr_path):
    km = KernelManager(kernel_name="tslab")
    STARTED.append(km)
    env = {**os.environ, "BN_PROFILE": "quick"}
    km.start_kernel(cwd=os.path.join(ROOT, "notebooks"), env=env, stderr=open(stderr_path, "w"))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    return km, client, km.provisioner.process


def run(client, code, timeout=300):
    """Executes code; returns the reply's status and the text/plain results and stream output."""
    msg_id = client.execute(code)
    said = []
    reply = client.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    while True:  # drain iopub up to this request's idle state
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        content = msg["content"]
        if msg["msg_type"] == "stream":
            said.append(content["text"])
        elif msg["msg_type"] == "execute_result":
            said.append(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
            break
    return reply["content"]["status"], "".join(said)


def train_until_progress(client):
    """Starts the long training cell and returns once its live display shows progress."""
    msg_id = client.execute(TRAIN)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        text = msg["content"].get("data", {}).get("text/plain", "")
        if msg["msg_type"] in ("display_data", "update_display_data") and "training:" in text:
            return msg_id
    raise RuntimeError("training showed no progress within 120 s")


def wait_reply(client, msg_id, timeout=120):
    while True:
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            # tslab aborts what it receives in the 200 ms after a failed cell (tslab#19).
            time.sleep(0.5)
            return reply["content"]["status"]


def main():
    interrupts, seed = int(sys.argv[1]), int(sys.argv[2])
    logs = tempfile.mkdtemp(prefix="kernel-lifecycle-")
    result = {"interrupts": []}
    try:
        drive(interrupts, random.Random(seed), logs, result)
    except Exception as error:  # a dead kernel shows up as a timeout here; report, don't raise
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        for km in STARTED:
            if km.has_kernel and km.is_alive():
                km.shutdown_kernel(now=True)
    result["stderr"] = {
        name: open(os.path.join(logs, name)).read() for name in sorted(os.listdir(logs))
    }
    # The kernels' stderr travels in the result: its folder is not needed after this.
    shutil.rmtree(logs, ignore_errors=True)
    print(json.dumps(result))


def drive(interrupts, rng, logs, result):

    km, client, process = start(os.path.join(logs, "interrupted.log"))
    status, _ = run(client, SETUP)
    result["setup"] = status
    result["tensorsBefore"] = run(client, "tf.memory().numTensors")[1].strip()
    for _ in range(interrupts):
        msg_id = train_until_progress(client)
        time.sleep(rng.uniform(0.2, 2.0))
        km.interrupt_kernel()
        reply = wait_reply(client, msg_id)
        alive = km.is_alive()
        tensors = run(client, "tf.memory().numTensors")[1].strip() if alive else None
        result["interrupts"].append({"reply": reply, "alive": alive, "tensors": tensors})
    result["afterInterrupts"] = run(client, "6 * 7")[1].strip()

    # Shut down while a cell trains: jupyter_client interrupts, then asks the kernel to quit.
    train_until_progress(client)
    time.sleep(rng.uniform(0.2, 2.0))
    client.stop_channels()
    km.shutdown_kernel(now=False)
    result["shutdownExit"] = process.wait(timeout=60)

    # Restart while a cell trains: the old kernel goes as above, a new one starts.
    km, client, process = start(os.path.join(logs, "restarted.log"))
    run(client, SETUP)
    train_until_progress(client)
    time.sleep(rng.uniform(0.2, 2.0))
    km.restart_kernel(now=False)
    result["restartedOldExit"] = process.wait(timeout=60)
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    result["afterRestart"] = run(client, "6 * 7")[1].strip()
    client.stop_channels()
    km.shutdown_kernel(now=False)


if __name__ == "__main__":
    main()
