"""Tests of turnpike_session. The SessionsClient tests talk to a real gateway: set TURNPIKE_URL
(and TURNPIKE_MODEL) to one; client/session_context_py_test.ts starts one and runs this file."""

from __future__ import annotations

import ast
import os
import pathlib
import unittest
import uuid

from turnpike_session import DEFAULT_HEADERS_CONFIG, SessionContext, SessionsClient, TurnpikeError

HERE = pathlib.Path(__file__).parent


def gateway_url() -> str:
    url = os.environ.get("TURNPIKE_URL")
    if not url:
        raise AssertionError(
            "TURNPIKE_URL is not set; run `deno test -A client/session_context_py_test.ts`, "
            "which starts a gateway, or point TURNPIKE_URL at one"
        )
    return url


MODEL = os.environ.get("TURNPIKE_MODEL", "llama-3.1-8b-sim")


class SessionContextTest(unittest.TestCase):
    def test_headers_carry_the_ids_under_the_default_names(self) -> None:
        ctx = SessionContext(session_id="s1", task_id="t1", client_id="me")
        self.assertEqual(
            ctx.get_headers(), {"X-Session-ID": "s1", "X-Task-ID": "t1", "X-Client-ID": "me"}
        )
        self.assertEqual(ctx.headers_config, dict(DEFAULT_HEADERS_CONFIG))

    def test_a_new_context_gets_a_uuid_and_sends_no_task_or_client(self) -> None:
        ctx = SessionContext()
        self.assertEqual(str(uuid.UUID(ctx.session_id)), ctx.session_id)
        self.assertEqual(list(ctx.get_headers()), ["X-Session-ID"])
        self.assertNotEqual(SessionContext().session_id, ctx.session_id)

    def test_set_timing_formats_like_the_typescript_helper_and_clears_the_rest(self) -> None:
        ctx = SessionContext(session_id="s1")
        ctx.set_timing(pre_ms=12.3456, post_ms=4)
        headers = ctx.get_headers()
        self.assertEqual(
            [headers["X-Timing-Pre-Ms"], headers["X-Timing-Post-Ms"]], ["12.346", "4"]
        )
        ctx.set_timing(post_ms=7.5)
        self.assertNotIn("X-Timing-Pre-Ms", ctx.get_headers())
        self.assertEqual(ctx.get_headers()["X-Timing-Post-Ms"], "7.5")
        ctx.set_timing(pre_ms=-1, post_ms=float("nan"))
        self.assertEqual(list(ctx.get_headers()), ["X-Session-ID"])
        with self.assertRaises(TypeError):
            ctx.set_timing(pre_ms="12")  # type: ignore[arg-type]

    def test_headers_config_renames_headers_and_rejects_unknown_keys(self) -> None:
        ctx = SessionContext(
            session_id="s1",
            task_id="t1",
            headers_config={"session": "X-Agent", "timing_pre": "X-Pre"},
        )
        ctx.set_timing(pre_ms=1)
        self.assertEqual(ctx.get_headers(), {"X-Agent": "s1", "X-Task-ID": "t1", "X-Pre": "1"})
        with self.assertRaisesRegex(ValueError, "sesion"):
            SessionContext(headers_config={"sesion": "X"})

    def test_get_headers_reads_the_attributes_as_they_are_now(self) -> None:
        ctx = SessionContext(session_id="s1")
        first = ctx.get_headers()
        ctx.task_id = "later"
        self.assertNotIn("X-Task-ID", first)
        self.assertEqual(ctx.get_headers()["X-Task-ID"], "later")

    def test_the_python_files_are_python_3_9_syntax(self) -> None:
        files = sorted(HERE.glob("*.py"))
        self.assertIn(HERE / "turnpike_session.py", files)
        for path in files:
            ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))


class SessionsClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = SessionContext(task_id="py-sessions", client_id="py-client")
        self.client = SessionsClient(gateway_url(), context=self.ctx)

    def test_a_multi_turn_session_keeps_its_history(self) -> None:
        session = self.client.create(MODEL, system="You are terse.")
        self.assertEqual([session["task_id"], session["client_id"]], ["py-sessions", "py-client"])
        first = self.client.turn(session["id"], "first question", max_tokens=4)
        first_text = first["choices"][0]["message"]["content"]
        self.assertTrue(first_text)
        self.ctx.set_timing(pre_ms=25, post_ms=3)
        chunks = list(
            self.client.stream_turn(
                session["id"], messages=[{"role": "user", "content": "second"}], max_tokens=4
            )
        )
        streamed = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        self.assertTrue(streamed)
        self.client.turn(session["id"], {"role": "user", "content": "third"}, max_tokens=2)
        turns = list(self.client.history(session["id"], limit=2, include_sent=True))
        self.assertEqual([t["turn"] for t in turns], [1, 2, 3])
        self.assertEqual(turns[1]["output"][0]["content"], streamed)
        self.assertEqual(
            [m["content"] for m in turns[1]["sent"]["prompt"]],
            ["You are terse.", "first question", first_text, "second"],
        )
        self.assertEqual(self.client.get(session["id"])["turns"], 3)
        self.assertEqual(self.client.delete(session["id"])["deleted"], True)

    def test_refusals_raise_turnpike_errors_with_the_gateway_body(self) -> None:
        with self.assertRaises(TurnpikeError) as missing:
            self.client.get("sess_nope")
        self.assertEqual(
            [missing.exception.status, missing.exception.code], [404, "session_not_found"]
        )
        self.assertEqual(missing.exception.type, "invalid_request_error")
        with self.assertRaises(TurnpikeError) as unknown_model:
            self.client.create("no-such-model")
        self.assertEqual(unknown_model.exception.code, "model_not_found")
        session = self.client.create(MODEL)
        with self.assertRaises(TurnpikeError) as both:
            self.client.turn(session["id"], "a", messages=[{"role": "user", "content": "b"}])
        self.assertEqual([both.exception.status, both.exception.code], [400, "invalid_request"])
        with self.assertRaises(TurnpikeError) as streamed:
            self.client.stream_turn("sess_nope", "hi")
        self.assertEqual(streamed.exception.status, 404)
        self.assertEqual(self.client.cancel(session["id"])["cancelled"], False)


if __name__ == "__main__":
    unittest.main()
