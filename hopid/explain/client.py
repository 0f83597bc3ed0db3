"""A minimal OpenAI-compatible chat-completions client: JSON over HTTP, retries with backoff."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from hopid.errors import HopidError

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class EndpointError(HopidError):
    """One request failed for good (after its retries); ``unreachable`` when nothing answered."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def completions_url(endpoint: str) -> str:
    """``http://host:port/v1`` (or a full ``.../chat/completions`` URL) as the completions URL."""
    if not endpoint.startswith(("http://", "https://")):
        raise HopidError(f"--endpoint {endpoint!r}: expected an http:// or https:// URL")
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/chat/completions") else f"{endpoint}/chat/completions"


@dataclass
class ChatClient:
    url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    max_tokens: int = 160
    temperature: float = 0.0

    def complete(self, system: str, prompt: str) -> str:
        """The assistant's reply to one prompt; :class:`EndpointError` once the retries are spent."""
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        last, unreachable = "", True
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                    return _reply(json.loads(response.read().decode("utf-8")))
            except urllib.error.HTTPError as exc:
                unreachable = False
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code not in RETRYABLE_STATUS:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                unreachable = False
                last = f"not a chat-completions reply ({exc})"
        raise EndpointError(f"{self.url}: {last}", unreachable=unreachable)


def _reply(payload: dict) -> str:
    text = payload["choices"][0]["message"]["content"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty message content")
    return text.strip()
