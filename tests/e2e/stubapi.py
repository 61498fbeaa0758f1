# SPDX-License-Identifier: MIT
"""A stand-in for the model APIs the agents call, over HTTPS: it answers
every completion request with one canned text, in the shape each API has
(Anthropic Messages, OpenAI Chat Completions and Responses, Gemini
generateContent), streamed when asked, and logs each request's method,
path, model and the API key it carried as a JSON line. Test-only; it
listens on an address of the test's own --internal network.

  stubapi.py --bind ADDR --port N --cert PEM --key PEM --answer TEXT --log FILE
"""
import argparse
import json
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def sse(events):
    return "".join((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
                   for name, data in events).encode()


def anthropic(body, answer):
    model = body.get("model", "stub")
    usage = {"input_tokens": 5, "output_tokens": 5}
    if not body.get("stream"):
        return "application/json", json.dumps({
            "id": "msg_stub", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": usage}).encode()
    return "text/event-stream", sse([
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_stub", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": answer}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ])


def chat_completions(body, answer):
    model = body.get("model", "stub")
    created = int(time.time())
    usage = {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    if not body.get("stream"):
        return "application/json", json.dumps({
            "id": "chatcmpl-stub", "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": usage}).encode()
    chunk = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": created, "model": model}
    return "text/event-stream", sse([
        (None, dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": answer},
                                     "finish_reason": None}])),
        (None, dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}], usage=usage)),
    ]) + b"data: [DONE]\n\n"


def responses(body, answer):
    model = body.get("model", "stub")
    item = {"type": "message", "id": "msg_stub", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": answer, "annotations": []}]}
    resp = {"id": "resp_stub", "object": "response", "created_at": int(time.time()), "status": "completed",
            "model": model, "output": [item],
            "usage": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}
    if not body.get("stream"):
        return "application/json", json.dumps(resp).encode()
    return "text/event-stream", sse([
        ("response.created", {"type": "response.created", "response": dict(resp, status="in_progress", output=[])}),
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                        "item": dict(item, status="in_progress", content=[])}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_stub",
                                        "output_index": 0, "content_index": 0, "delta": answer}),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "response": resp}),
    ])


def gemini(path, answer):
    data = {"candidates": [{"content": {"role": "model", "parts": [{"text": answer}]}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10},
            "modelVersion": "stub"}
    if ":streamGenerateContent" in path:
        return "text/event-stream", sse([(None, data)])
    return "application/json", json.dumps(data).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, ctype, payload):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def api_key(self):
        """The credential the client sent, in whichever place its API takes
        it: Anthropic's x-api-key, a bearer token (OpenAI), Gemini's
        x-goog-api-key or its key= query parameter."""
        bearer = self.headers.get("Authorization", "")
        if bearer.lower().startswith("bearer "):
            return bearer[7:].strip()
        for name in ("x-api-key", "x-goog-api-key"):
            if self.headers.get(name):
                return self.headers[name]
        query = parse_qs(urlsplit(self.path).query)
        return query["key"][0] if "key" in query else None

    def record(self, body):
        with open(self.server.log_path, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "model": body.get("model"),
                                "key": self.api_key()}) + "\n")

    def do_GET(self):
        self.record({})
        if self.path.rstrip("/").endswith("/models"):
            self.reply(200, "application/json", json.dumps({
                "object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "stub"}]}).encode())
        else:
            self.reply(404, "application/json", b'{"error": {"message": "not here"}}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        self.record(body if isinstance(body, dict) else {})
        answer, path = self.server.answer, self.path.split("?")[0]
        if path.endswith("/messages/count_tokens"):
            result = ("application/json", b'{"input_tokens": 5}')
        elif path.endswith("/messages"):
            result = anthropic(body, answer)
        elif path.endswith("/chat/completions"):
            result = chat_completions(body, answer)
        elif path.endswith("/responses"):
            result = responses(body, answer)
        elif path.endswith((":generateContent", ":streamGenerateContent")):
            result = gemini(path, answer)
        elif path.endswith(":countTokens"):
            result = ("application/json", b'{"totalTokens": 5}')
        else:
            self.reply(404, "application/json", b'{"error": {"message": "not here"}}')
            return
        self.reply(200, *result)


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--bind", "--cert", "--key", "--answer", "--log"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--port", type=int, default=443)
    a = ap.parse_args()
    server = ThreadingHTTPServer((a.bind, a.port), Handler)
    server.answer, server.log_path = a.answer, a.log
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
