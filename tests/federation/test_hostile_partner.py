"""A scripted hostile partner (httpx.MockTransport) for each case of the issue's item 3.

Reliability reference test 30 and goal B5: bounded time, requests and bytes; no retry
on 401/403/404; capped backoff with jitter honouring Retry-After on 429/5xx and
connection errors; no off-origin redirect; the checkpoint never regresses; every
anomaly is recorded in the sync state.  Sleeps are recorded, never slept, so each test
takes well under a second (asserted).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from liaison.federation.client import Limits, PartnerClient, PartnerError
from tests.conftest import database_for
from tests.federation.helpers import (
    BASE_US,
    RED,
    TAXII,
    Local,
    ScriptedPartner,
    envelope_response,
    indicator,
    make_local,
)

BOUND = 5.0  # seconds any of these runs may take


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < BOUND


def objects(local: Local, n: int) -> list[dict[str, object]]:
    return [indicator(local.partner_org, i) for i in range(n)]


def pull_once(local: Local, partner: ScriptedPartner, slept: list[float] | None = None,
              **kw: object):  # type: ignore[no-untyped-def]
    results = local.syncer(partner.transport(), slept=slept, **kw).run_once()  # type: ignore[arg-type]
    return next(r for r in results if r.job.direction == "pull")


def test_a_well_behaved_partner_is_pulled_completely_and_resumably(local: Local) -> None:
    partner = ScriptedPartner(objects(local, 25))
    r = pull_once(local, partner)
    assert (r.moved, r.pages, r.caught_up, r.error) == (25, 3, True, None)
    assert local.state().checkpoint == BASE_US + 24
    again = pull_once(local, partner)  # resumes at checkpoint - 1 µs: one object again
    assert (again.moved, again.pages, again.caught_up) == (0, 1, True)
    assert local.ids() == [o["id"] for o in partner.objects]


def test_timeouts_are_retried_with_capped_jittered_backoff_then_recorded(local: Local) -> None:
    def hang(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ReadTimeout("silent partner", request=request)

    partner = ScriptedPartner(objects(local, 3), override=hang)
    slept: list[float] = []
    r = pull_once(local, partner, slept, max_attempts=4, backoff_base=1.0, backoff_cap=3.0)
    pulls = [q for q in partner.requests if "objects" in q.url.path]
    assert len(pulls) == 4 and len(slept) == 3  # 4 attempts, a pause between each
    for attempt, delay in enumerate(slept, 1):
        ceiling = min(3.0, 1.0 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert "timed out" in (r.error or "") and "gave up after 4 attempts" in (r.error or "")
    state = local.state()
    assert state.last_error == r.error and state.checkpoint is None


def test_connection_errors_are_retried_and_then_the_pull_succeeds(local: Local) -> None:
    def flaky(request: httpx.Request, n: int) -> httpx.Response | None:
        if n <= 2:
            raise httpx.ConnectError("connection refused", request=request)
        return None

    partner = ScriptedPartner(objects(local, 5), override=flaky)
    slept: list[float] = []
    r = pull_once(local, partner, slept)
    assert (r.moved, r.caught_up, r.error, len(slept)) == (5, True, None, 2)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_429_and_5xx_are_retried_honouring_retry_after(local: Local, status: int) -> None:
    def busy(request: httpx.Request, n: int) -> httpx.Response | None:
        if n == 1:
            return httpx.Response(status, headers={"Retry-After": "7"},
                                  json={"title": "busy"})
        return None

    partner = ScriptedPartner(objects(local, 2), override=busy)
    slept: list[float] = []
    r = pull_once(local, partner, slept)
    assert slept == [7.0] and r.moved == 2 and r.error is None


def test_a_retry_after_beyond_the_cap_stops_the_run_for_the_next_one(local: Local) -> None:
    partner = ScriptedPartner(objects(local, 2), override=lambda q, n: httpx.Response(
        503, headers={"Retry-After": "86400"}))
    slept: list[float] = []
    r = pull_once(local, partner, slept)
    assert slept == [] and "retry after 86400 s" in (r.error or "")
    assert len(partner.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_401_403_404_are_not_retried_and_the_error_is_recorded(local: Local, status: int) -> None:
    partner = ScriptedPartner(objects(local, 2), override=lambda q, n: httpx.Response(
        status, headers={"Content-Type": TAXII},
        json={"title": "Nope", "description": "go away", "http_status": str(status)}))
    slept: list[float] = []
    r = pull_once(local, partner, slept)
    assert len(partner.requests) == 1 and slept == []
    assert f"answered {status}: Nope — go away" in (r.error or "")
    assert local.state().last_error == r.error
    from liaison.cli.sync_cmds import status_rows

    row = next(x for x in status_rows(local.exchange, "remote") if x["direction"] == "pull")
    assert row["last_error"] == r.error


def test_an_oversized_answer_is_cut_off_while_streaming(local: Local) -> None:
    huge = [indicator(local.partner_org, i) for i in range(400)]

    def stream(request: httpx.Request, n: int) -> httpx.Response:
        env = envelope_response(huge, [BASE_US, BASE_US + 399])
        return httpx.Response(200, headers={"Content-Type": TAXII, **{
            k: v for k, v in env.headers.items() if k.lower().startswith("x-taxii")}},
            content=iter([env.content[i:i + 4096] for i in range(0, len(env.content), 4096)]))

    partner = ScriptedPartner(override=stream)
    r = pull_once(local, partner, max_response_bytes=20_000)
    assert "larger than the 20000 bytes allowed" in (r.error or "")
    assert local.ids() == [] and local.state().checkpoint is None
    declared = ScriptedPartner(override=lambda q, n: httpx.Response(
        200, headers={"Content-Length": str(10**9)}, content=b"{}"))
    r = pull_once(local, declared, max_response_bytes=20_000)
    assert "declares 1000000000 bytes" in (r.error or "")


def test_pages_per_run_are_bounded_and_the_next_run_goes_on(local: Local) -> None:
    partner = ScriptedPartner(objects(local, 100))
    r = pull_once(local, partner, page_size=10, max_pages=3)
    assert (r.pages, r.moved, r.caught_up, r.error) == (3, 30, False, None)
    assert local.state().checkpoint == BASE_US + 29
    r = pull_once(local, partner, page_size=10, max_pages=100)
    assert r.caught_up and len(local.ids()) == 100


def test_a_next_that_does_not_advance_stops_the_run(local: Local) -> None:
    same = objects(local, 3)
    partner = ScriptedPartner(override=lambda q, n: envelope_response(
        same, [BASE_US + 5, BASE_US + 5], more=True, next_="stuck"))
    r = pull_once(local, partner)
    assert "did not advance" in (r.error or "")
    assert len(partner.requests) == 2 and len(local.ids()) == 3
    assert local.state().checkpoint == BASE_US + 5


def test_more_true_with_nothing_stops_the_run(local: Local) -> None:
    partner = ScriptedPartner(override=lambda q, n: envelope_response([], [], more=True,
                                                                    next_="x"))
    r = pull_once(local, partner)
    assert "more: true with no objects" in (r.error or "") and len(partner.requests) == 1


def test_timestamps_that_go_backwards_stop_the_run_and_the_checkpoint_holds(local: Local) -> None:
    first, second = objects(local, 2), objects(local, 2)

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if "next" not in request.url.params:
            return envelope_response(first, [BASE_US + 100, BASE_US + 200], more=True,
                                     next_="p2")
        return envelope_response(second, [BASE_US + 50, BASE_US + 60])

    partner = ScriptedPartner(override=answer)
    r = pull_once(local, partner)
    assert "went backwards" in (r.error or "")
    assert local.state().checkpoint == BASE_US + 200 and len(local.ids()) == 2
    # On the next run the partner answers added_after with older dates: refused too.
    older = ScriptedPartner(override=lambda q, n: envelope_response(
        objects(local, 1), [BASE_US + 10]))
    r = pull_once(local, older)
    assert "went backwards" in (r.error or "")
    assert older.requests[0].url.params["added_after"] == "2026-01-01T00:00:00.000199Z"
    assert local.state().checkpoint == BASE_US + 200


def test_missing_date_headers_on_a_non_empty_page_stop_the_run(local: Local) -> None:
    partner = ScriptedPartner(override=lambda q, n: httpx.Response(
        200, json={"objects": objects(local, 1)}))
    r = pull_once(local, partner)
    assert "X-TAXII-Date-Added" in (r.error or "") and local.ids() == []


def test_a_redirect_to_another_host_is_refused(local: Local) -> None:
    partner = ScriptedPartner(override=lambda q, n: httpx.Response(
        302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    r = pull_once(local, partner)
    assert "redirect (302) to http://169.254.169.254/latest/meta-data/: not followed" in (
        r.error or "")
    assert {q.url.host for q in partner.requests} == {"partner.test"}


def test_a_same_origin_redirect_of_a_get_is_followed(local: Local) -> None:
    inner = ScriptedPartner(objects(local, 2))

    def moved(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.url.path.startswith("/old/"):
            return httpx.Response(301, headers={"Location": "/api/" + request.url.path[5:]})
        return inner.handle(request)

    partner = ScriptedPartner(override=moved)
    local.exchange.partners.set_remote("remote", "http://partner.test/old/")
    r = pull_once(local, partner)
    assert r.error is None and r.moved == 2


def test_a_malformed_envelope_stops_the_run(local: Local) -> None:
    for bad in (b"[1, 2]", b'{"objects": {"a": 1}}', b'{"objects": [1]}', b"{\"more\": \"yes\"}",
                b"not json", b'{"objects": [], "objects": []}'):
        partner = ScriptedPartner(override=lambda q, n, bad=bad: httpx.Response(
            200, content=bad, headers={"X-TAXII-Date-Added-Last": "2026-01-01T00:00:00Z"}))
        r = pull_once(local, partner)
        assert r.error and r.moved == 0, bad
    assert local.ids() == []


def test_what_a_partner_sends_goes_through_validation_and_the_receiving_policy(
        local: Local) -> None:
    ours = indicator(None, 1)
    local.import_objects([ours])
    good = indicator(local.partner_org, 2)
    forged = indicator(f"identity--{uuid.uuid4()}", 3)
    invalid = {"type": "indicator", "id": f"indicator--{uuid.uuid4()}", "spec_version": "2.1"}
    hijack = dict(ours, modified="2026-02-01T00:00:00.000Z", name="changed by the partner")
    partner = ScriptedPartner([good, forged, invalid, hijack])
    r = pull_once(local, partner)
    assert (r.moved, r.failed, r.caught_up) == (1, 3, True)
    assert good["id"] in local.ids() and forged["id"] not in local.ids()
    assert local.versions().count((ours["id"], ours["modified"])) == 1
    assert (ours["id"], hijack["modified"]) not in local.versions()
    messages = {f.stix_id: f.message for f in local.failures()}
    assert "created_by_ref names" in messages[forged["id"]]
    assert "only its creator may add versions" in messages[ours["id"]]
    assert invalid["id"] in messages
    [(version, _date, origin, via)] = local.node.store.provenance(local.collection.cid,
                                                                  good["id"])
    assert (origin, via) == (local.partner.id, local.agreement.id)


def test_revoking_the_agreement_stops_the_flow_at_the_next_request(local: Local) -> None:
    inner = ScriptedPartner(objects(local, 30))

    def revoke_after_first(request: httpx.Request, n: int) -> httpx.Response:
        answer = inner.handle(request)
        if n == 1:
            local.exchange.partners.revoke_agreement(local.agreement.id)
        return answer

    partner = ScriptedPartner(override=revoke_after_first)
    r = pull_once(local, partner)
    assert "no longer lets remote send" in (r.error or "")
    assert len(partner.requests) == 1 and len(local.ids()) == 10


def test_the_client_refuses_to_call_another_origin_at_all() -> None:
    calls: list[httpx.Request] = []
    client = PartnerClient("http://partner.test/api/", "t", limits=Limits(max_attempts=1),
                           transport=httpx.MockTransport(lambda q: calls.append(q) or
                                                         httpx.Response(200)))
    with pytest.raises(PartnerError, match="not on the partner's origin"):
        client.get("http://elsewhere.test/api/")
    assert calls == []


def test_credentials_basic_for_user_password_bearer_otherwise() -> None:
    seen: list[str] = []
    t = httpx.MockTransport(lambda q: seen.append(q.headers["authorization"]) or
                            httpx.Response(200, json={}))
    PartnerClient("http://p.test/", "user:pw", transport=t).get("http://p.test/x/")
    PartnerClient("http://p.test/", "lsn_abc", transport=t).get("http://p.test/x/")
    assert seen == ["Basic dXNlcjpwdw==", "Bearer lsn_abc"]


# -- push ---------------------------------------------------------------------------------

@pytest.fixture
def pusher(engine: str, tmp_path: Path) -> Iterator[Local]:
    """A node whose agreement lets the partner read ("pull"): our node pushes."""
    made = make_local(tmp_path, "pull", database_for(engine, tmp_path))
    yield made
    made.node.close()


def test_push_sends_what_the_policy_releases_and_nothing_else(pusher: Local) -> None:
    local = pusher
    released = [indicator(None, i) for i in range(12)]
    red = indicator(None, 99, marking=RED)
    local.import_objects([*released, red])
    partner = ScriptedPartner()
    results = local.syncer(partner.transport(), page_size=5).run_once()
    push = next(r for r in results if r.job.direction == "push")
    assert push.caught_up and push.error is None
    sent = {o["id"] for o in partner.posted}
    assert {o["id"] for o in released} <= sent and red["id"] not in sent
    assert local.state("push").checkpoint is not None


def test_push_watermark_moves_only_over_answered_objects(pusher: Local) -> None:
    local = pusher
    local.import_objects([indicator(None, i) for i in range(6)])
    calls = {"n": 0}

    def partial(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.method != "POST":
            return None if request.url.path == "/api/" else envelope_response([], [])
        calls["n"] += 1
        sent = json.loads(request.content)["objects"]
        ok = [{"id": o["id"], "version": o.get("modified", o.get("created"))} for o in sent[:3]]
        bad = [{"id": sent[3]["id"], "version": sent[3].get("modified", sent[3].get("created")),
                "message": "refused by partner policy"}] if calls["n"] == 1 else []
        pending = [{"id": o["id"], "version": o.get("modified", o.get("created"))}
                   for o in sent[4:]] if calls["n"] == 1 else []
        if calls["n"] > 1:
            ok = [{"id": o["id"], "version": o.get("modified", o.get("created"))} for o in sent]
        return httpx.Response(202, json={
            "id": str(uuid.uuid4()), "status": "complete", "total_count": len(sent),
            "success_count": len(ok), "successes": ok, "failure_count": len(bad),
            "failures": bad, "pending_count": len(pending), "pendings": pending})

    partner = ScriptedPartner(override=partial)
    first = next(r for r in local.syncer(partner.transport(), page_size=100).run_once()
                 if r.job.direction == "push")
    assert "left" in (first.error or "") and (first.moved, first.failed) == (3, 1)
    failures = local.failures("push")
    assert [f.message for f in failures] == ["refused by partner policy"]
    second = next(r for r in local.syncer(partner.transport(), page_size=100).run_once()
                  if r.job.direction == "push")
    assert second.caught_up and second.error is None
    assert calls["n"] == 2
