"""A small OpenAI-compatible server for tests: stdlib http.server on a free loopback port, in a thread.

Chat completions answer ``reply to: <last user message>``; a message containing ``sleep=S`` answers after S
seconds. Completions with ``echo`` tokenise the prompt one character per token, the log-probability of a
character c being -(ord(c) % 7 + 1) / 10 (None for the first token), then add one generated token "!";
a prompt of token ids scores token id i at -(i % 5 + 1) / 10. Substrings named in ``special`` are echoed as
llama-cpp-python echoes special tokens: left out of the token lists, and not counted in ``text_offset``.
Every request's headers are recorded (``headers``, lower-case names); ``redirect_to`` answers every POST with a
redirect (``redirect_status``) to that origin, same path; a GET is recorded and answered 404; ``reject_auth``
answers 401 echoing the Authorization header, as careless servers do. ``top_logprobs=False`` echoes no
``top_logprobs`` (as some servers do); ``tokenizer=True`` serves vLLM's /tokenizer_info, /tokenize and
/detokenize at the root, one character per token (the id is the code point).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def char_logprob(ch: str) -> float:
    return -(ord(ch) % 7 + 1) / 10


def token_logprob(token_id: int) -> float:
    """The fake log-probability of a token id sent as a tokenized prompt."""
    return -(token_id % 5 + 1) / 10


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 503 to this many requests first
    logprobs: str = "echo"  # "echo" | "missing" (ignores logprobs) | "refuse" (HTTP 400)
    apply_template: bool = False  # serve llama.cpp's /apply-template
    special: tuple[str, ...] = ()  # special-token texts echoed llama-cpp-python's way (no tokens, no offsets)
    redirect_to: str | None = None  # e.g. http://127.0.0.1:PORT: every POST is redirected there (same path)
    redirect_status: int = 307  # 307 keeps the POST; urllib follows 301/302/303 as a GET
    reject_auth: bool = False  # answer 401 with the Authorization header in the error message
    top_logprobs: bool = True  # echo top_logprobs (each token's own entry) with the log-probabilities
    tokenizer: bool = False  # serve /tokenizer_info, /tokenize, /detokenize (one character per token)
    headers: list[dict[str, str]] = field(default_factory=list)  # per request, names lower-cased
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with behaviour.lock:
                behaviour.requests.append({"path": self.path, "method": "GET"})
                behaviour.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path == "/tokenizer_info" and behaviour.tokenizer:
                self._send(200, {"eos_token": "\n", "bos_token": None, "pad_token": None})
            else:
                self._send(404, {"error": {"message": f"no GET route {self.path}"}})

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with behaviour.lock:
                behaviour.requests.append({"path": self.path, **payload})
                behaviour.headers.append({k.lower(): v for k, v in self.headers.items()})
                failing = len(behaviour.requests) <= behaviour.fail_first
                behaviour.in_flight += 1
                behaviour.max_in_flight = max(behaviour.max_in_flight, behaviour.in_flight)
            try:
                if behaviour.redirect_to is not None:
                    self.send_response(behaviour.redirect_status)
                    self.send_header("Location", behaviour.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif behaviour.reject_auth:
                    sent = self.headers.get("Authorization", "(none)")
                    self._send(401, {"error": {"message": f"invalid credentials: {sent}"}})
                elif failing:
                    self._send(503, {"error": {"message": "loading model"}})
                elif self.path == "/v1/chat/completions":
                    self._chat(payload)
                elif self.path == "/v1/completions":
                    self._completion(payload)
                elif self.path == "/tokenize" and behaviour.tokenizer:
                    self._send(200, {"tokens": [ord(c) for c in payload["prompt"]]})
                elif self.path == "/detokenize" and behaviour.tokenizer:
                    self._send(200, {"prompt": "".join(map(chr, payload["tokens"]))})
                elif self.path == "/apply-template" and behaviour.apply_template:
                    text = "".join(f"<{m['role']}>{m['content']}\n" for m in payload["messages"])
                    self._send(200, {"prompt": text + "<assistant>"})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
            finally:
                with behaviour.lock:
                    behaviour.in_flight -= 1

        def _chat(self, payload: dict[str, Any]) -> None:
            last = payload["messages"][-1]["content"]
            if match := re.search(r"sleep=([\d.]+)", last):
                time.sleep(float(match.group(1)))
            message = {"role": "assistant", "content": f" reply to: {last} "}
            self._send(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

        def _completion(self, payload: dict[str, Any]) -> None:
            if behaviour.logprobs == "refuse":
                self._send(400, {"error": {"message": "echo is not supported with logprobs"}})
                return
            if isinstance(payload["prompt"], list):  # token ids (lm-eval's tokenized requests)
                self._token_completion(payload["prompt"])
                return
            text = payload["prompt"]
            choice: dict[str, Any] = {"index": 0, "text": text + "!", "finish_reason": "length"}
            if behaviour.logprobs == "echo":
                visible = re.sub("|".join(map(re.escape, behaviour.special)), "", text) if behaviour.special else text
                tokens = [*visible, "!"]
                values: list[float | None] = [None, *(char_logprob(c) for c in visible[1:]), -0.5]
                choice["logprobs"] = {
                    "tokens": tokens,
                    "token_logprobs": values,
                    "text_offset": list(range(len(tokens))),
                    "top_logprobs": [None] + [{t: v} for t, v in zip(tokens[1:], values[1:], strict=True)],
                }
                if not behaviour.top_logprobs:
                    del choice["logprobs"]["top_logprobs"]
            else:
                choice["logprobs"] = None
            self._send(200, {"choices": [choice]})

        def _token_completion(self, prompts: list[Any]) -> None:
            batch = prompts if prompts and isinstance(prompts[0], list) else [prompts]
            choices = []
            for index, ids in enumerate(batch):
                values: list[float | None] = [None, *(token_logprob(i) for i in ids[1:]), -0.5]
                tops = [None] + [{str(i): v} for i, v in zip([*ids[1:], 0], values[1:], strict=True)]
                logprobs = {"tokens": [str(i) for i in [*ids, 0]], "token_logprobs": values, "top_logprobs": tops}
                choices.append({"index": index, "text": "!", "logprobs": logprobs, "finish_reason": "length"})
            self._send(200, {"choices": choices})

    return Handler


@contextmanager
def fake_server(behaviour: Behaviour | None = None) -> Iterator[tuple[str, Behaviour]]:
    """(base URL ending in /v1, behaviour) of a running fake server; stopped on exit."""
    behaviour = behaviour or Behaviour()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", behaviour
    finally:
        server.shutdown()
        server.server_close()
