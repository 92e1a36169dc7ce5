"""`POST /api/hooks/bounces/{ses,mailgun,postmark,sendgrid}`: providers tell us of
bounces and complaints; each request's signature is checked (bounces/hooks.py) and its
events recorded like those read from the bounce mailbox.

A provider is off (404) until its secret or key is configured. Answers: 200 with what
was recorded, 401 when the signature or credentials do not check out, 400 for a body
that is not the provider's format. SNS subscription confirmations are confirmed by
visiting their SubscribeURL (on sns.<region>.amazonaws.com only).
"""

from __future__ import annotations

import logging

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.bounces import hooks
from m5syndicate.bounces.hooks import HookInvalid, HookRefused, Parsed, SnsVerifier
from m5syndicate.bounces.record import Recorder, Tally
from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.runtime import Runtime
from m5syndicate.web.render import runtime_of

log = logging.getLogger("m5.web")
MAX_BODY = 1024 * 1024  # SNS messages are at most 256 KB; SendGrid batches a few hundred
SNS_FETCH_TIMEOUT = 10.0


def fetch_from_sns(url: str) -> bytes:
    """GET a certificate or a SubscribeURL; only called with URLs already checked to be
    https on sns.<region>.amazonaws.com, and never following a redirect elsewhere."""
    response = httpx.get(url, timeout=SNS_FETCH_TIMEOUT, follow_redirects=False)
    response.raise_for_status()
    return response.content[:MAX_BODY]


def sns_verifier(request: Request, runtime: Runtime) -> SnsVerifier:
    """The app's verifier when one is set (tests: their own CA and fetcher), else the
    system's trust store and a real HTTPS fetch, made once per app so that its
    certificate cache outlives the request."""
    given: SnsVerifier | None = getattr(request.app.state, "sns_verifier", None)
    if given is not None:
        return given
    made = SnsVerifier(
        fetch_from_sns,
        hooks.system_trust(),
        tuple(runtime.settings.bounces.ses_topic_arns),
        runtime.clock,
    )
    request.app.state.sns_verifier = made
    return made


async def bounce_hook(request: Request) -> Response:
    runtime = runtime_of(request)
    provider = request.path_params["provider"]
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        parsed = await parse(request, runtime, provider, body)
    except LookupError:
        return JSONResponse({"error": f"no {provider} hook configured"}, status_code=404)
    except HookRefused as exc:
        log.warning("bounce hook %s refused: %s", provider, exc)
        return JSONResponse({"error": str(exc)}, status_code=401)
    except HookInvalid as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    if parsed.confirm_url:
        await run_in_threadpool(sns_verifier(request, runtime).fetch, parsed.confirm_url)
        return JSONResponse({"confirmed": True})
    tally = await run_in_threadpool(record, runtime, parsed, provider)
    for paused in tally.paused:
        log.error("edition paused: %s", paused)
    return JSONResponse(
        {"recorded": dict(tally.recorded), "ignored": tally.ignored, "unmatched": tally.unmatched}
    )


async def parse(request: Request, runtime: Runtime, provider: str, body: bytes) -> Parsed:
    settings = runtime.settings.bounces
    verp = delivery_signer(runtime.settings)
    if provider == "ses" and settings.ses_topic_arns:
        verifier = sns_verifier(request, runtime)
        return await run_in_threadpool(hooks.parse_ses, body, verifier, verp)
    if provider == "mailgun" and settings.mailgun_signing_key.get_secret_value():
        key = settings.mailgun_signing_key.get_secret_value()
        return hooks.parse_mailgun(body, key, runtime.clock(), verp)
    if provider == "postmark" and settings.postmark_password.get_secret_value():
        hooks.check_basic_auth(
            request.headers.get("authorization", ""),
            settings.postmark_user,
            settings.postmark_password.get_secret_value(),
        )
        return hooks.parse_postmark(body, verp)
    if provider == "sendgrid" and settings.sendgrid_public_key:
        return hooks.parse_sendgrid(
            body,
            request.headers.get("x-twilio-email-event-webhook-signature", ""),
            request.headers.get("x-twilio-email-event-webhook-timestamp", ""),
            settings.sendgrid_public_key,
            verp,
        )
    raise LookupError(provider)


def record(runtime: Runtime, parsed: Parsed, provider: str) -> Tally:
    settings = runtime.settings
    recorder = Recorder(
        runtime.engine, settings.bounces, settings.web.secret_key.get_secret_value()
    )
    tally = Tally()
    for reading in parsed.readings:
        tally.add(recorder.record(reading, provider, runtime.clock())[0])
    return tally


def routes() -> list[BaseRoute]:
    return [Route("/api/hooks/bounces/{provider}", bounce_hook, methods=["POST"])]
