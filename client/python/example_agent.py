"""A runnable multi-turn Python agent loop through turnpike: one SessionContext per conversation,
plain ``/v1/chat/completions`` calls with its headers (urllib only), and the agent's own tool time
reported back on the next call.

Run it against ``deno task serve``: ``python3 client/python/example_agent.py --turns 3``.
It prints one JSON line: ``{"session_id": ..., "answers": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from typing import Any, Dict, List, Optional

from turnpike_session import SessionContext


def run_tool(answer: str) -> str:
    """Pretends to run a tool on the model's answer; returns its output."""
    time.sleep(0.02)
    return f"tool saw {len(answer.split())} words"


def chat(base_url: str, body: Dict[str, Any], headers: Dict[str, str]) -> Dict[str, Any]:
    """One chat completion through the gateway."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/v1/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"content-type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read().decode("utf-8"))


def run_agent(
    base_url: str, model: str, turns: int, ctx: SessionContext, max_tokens: int = 16
) -> List[str]:
    """Asks, runs a tool on the answer, feeds its output back, and repeats; the answers."""
    messages: List[Dict[str, Any]] = [
        {"role": "system", "content": "You are a careful coding agent."},
        {"role": "user", "content": "Find why the test suite is flaky and propose a fix."},
    ]
    answers: List[str] = []
    post_start = time.monotonic()
    for _ in range(turns):
        completion = chat(
            base_url, {"model": model, "messages": messages, "max_tokens": max_tokens},
            ctx.get_headers(),
        )
        post_ms = (time.monotonic() - post_start) * 1000
        answer = completion["choices"][0]["message"]["content"] or ""
        answers.append(answer)
        tool_start = time.monotonic()
        output = run_tool(answer)
        messages.append({"role": "assistant", "content": answer})
        messages.append({"role": "user", "content": f"Tool output: {output}"})
        # The next call reports the time this agent spent on its own side of the turn.
        ctx.set_timing(pre_ms=(time.monotonic() - tool_start) * 1000, post_ms=post_ms)
        post_start = time.monotonic()
    return answers


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:5800")
    parser.add_argument("--model", default="llama-3.1-8b-sim")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--session-id")
    parser.add_argument("--task-id", default="example-task")
    parser.add_argument("--client-id", default="example-python-agent")
    parser.add_argument(
        "--headers-config", type=json.loads, default=None,
        help='renamed header names as JSON, e.g. \'{"session": "X-Agent-Session"}\'',
    )
    args = parser.parse_args(argv)
    ctx = SessionContext(
        session_id=args.session_id, task_id=args.task_id, client_id=args.client_id,
        headers_config=args.headers_config,
    )
    answers = run_agent(args.base_url, args.model, args.turns, ctx)
    print(json.dumps({"session_id": ctx.session_id, "answers": answers}))


if __name__ == "__main__":
    main()
