"""End to end: a real `liaison serve` driven by a real browser (Playwright + Chromium).

The node is made with the CLI (collections, the sample intelligence, a reader, a
partner); the browser signs in, searches, opens an object and follows a relationship in
the graph, runs a lookup, imports a file, creates and revokes an agreement, verifies
the audit log — and checks that a reader cannot reach admin pages, a partner token
cannot sign in, and a form posted without its CSRF token is refused.  Each page is
saved as a screenshot under test-output/screenshots/.

Chromium is Debian's (/usr/bin/chromium; `.ci/run` installs it); Playwright's own
browser download is not used.  Set LIAISON_CHROMIUM to use another binary.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.server import RunningNode, liaison_node
from tests.web import sample

REQUIRE = os.environ.get("LIAISON_REQUIRE_BROWSER") == "1"
"""CI (`.ci/run`) sets it: a missing browser then fails the run instead of skipping."""
CHROMIUM = os.environ.get("LIAISON_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if REQUIRE:
    import playwright.sync_api as playwright_api
    assert Path(CHROMIUM).exists(), f"LIAISON_REQUIRE_BROWSER=1 but there is no {CHROMIUM}"
else:
    playwright_api = pytest.importorskip("playwright.sync_api")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PARTNER_ORG = "identity--2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LIAISON_CHROMIUM; "
    "LIAISON_REQUIRE_BROWSER=1 makes this a failure)")


@dataclass
class Site:
    node: RunningNode
    reader_token: str
    partner_token: str
    bundle: Path

    @property
    def url(self) -> str:
        return self.node.base_url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("web-e2e")
    bundle = root / "border-feed.json"
    bundle.write_bytes(sample.bundle())
    with liaison_node(root / "node", org="Ministry of Defence, Astana (fictional)",
                      serve_args=["--no-sync"]) as node:
        node.add_collection("Border security", "border")
        node.add_collection("Inbox", "inbox")
        node.cli("import", str(bundle), "--collection", "border")
        reader = node.add_user("rita", "reader")
        node.grant("border", "rita", read=True)
        partner = node.cli_json("partner", "add", "kabul", "--org-identity", PARTNER_ORG)
        yield Site(node, reader, partner["inbound_token"], bundle)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _context(browser: object, site: Site) -> object:
    ctx = browser.new_context(base_url=site.url, viewport={"width": 1360, "height": 900},  # type: ignore[attr-defined]
                              accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def _sign_in(page: object, name: str, token: str) -> None:
    page.goto("/ui/login")  # type: ignore[attr-defined]
    page.fill("input[name=name]", name)  # type: ignore[attr-defined]
    page.fill("input[name=token]", token)  # type: ignore[attr-defined]
    page.click("button:has-text('Sign in')")  # type: ignore[attr-defined]


def _open(page: object, summary: str) -> None:
    """Open a <details> form box (whether or not it is open already)."""
    page.locator(f"details:has(summary:has-text('{summary}'))").evaluate(  # type: ignore[attr-defined]
        "d => { d.open = true; }")


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def admin(browser: object, site: Site) -> Iterator[object]:
    """One signed-in admin tab for the module; console errors (CSP, script) fail it."""
    ctx = _context(browser, site)
    page = ctx.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/")
    assert "/ui/login" in page.url
    _sign_in(page, "admin", site.node.admin_token)
    page.wait_for_url("**/ui/")
    yield page
    ctx.close()  # type: ignore[attr-defined]
    assert not errors, f"the browser reported errors: {errors}"


def test_sign_in_and_dashboard(admin: object, site: Site) -> None:
    page = admin
    page.goto("/ui/")  # type: ignore[attr-defined]
    heading = page.locator("h1")  # type: ignore[attr-defined]
    assert heading.inner_text() == "Dashboard"
    card = page.locator(".card", has_text="Border security")  # type: ignore[attr-defined]
    assert "12" in card.locator(".count").inner_text()
    assert page.locator(".tlp.tlp-red").count() >= 1  # type: ignore[attr-defined]
    shot(page, "dashboard")


def test_search_open_an_object_and_follow_the_graph(admin: object) -> None:
    page = admin
    page.goto("/ui/collections/border/")  # type: ignore[attr-defined]
    page.fill("input[name=q]", "sand")  # type: ignore[attr-defined]
    page.click("form.search button")  # type: ignore[attr-defined]
    rows = page.locator("table.objects tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 1
    shot(page, "browse")
    page.click("text=Sand Viper")  # type: ignore[attr-defined]
    page.wait_for_url(f"**/objects/{sample.ACTOR}/")  # type: ignore[attr-defined]
    assert page.locator("svg.graph").is_visible()  # type: ignore[attr-defined]
    assert "Dune Adder" in page.locator("#versions").inner_text()  # type: ignore[attr-defined]
    page.click("text=Raw JSON (as stored)")  # type: ignore[attr-defined]
    assert sample.ACTOR in page.locator("details.raw pre").inner_text()  # type: ignore[attr-defined]
    page.click("details.raw summary")  # type: ignore[attr-defined]
    shot(page, "object")
    page.locator(f'svg.graph a[data-id="{sample.MALWARE}"]').click()  # type: ignore[attr-defined]
    page.wait_for_url(f"**/objects/{sample.MALWARE}/")  # type: ignore[attr-defined]
    assert "GateKeeper loader" in page.locator("h1").inner_text()  # type: ignore[attr-defined]
    shot(page, "object-graph")
    # and on along another edge: the malware's graph leads to the indicators
    page.locator(f'svg.graph a[data-id="{sample.IND_IP}"]').click()  # type: ignore[attr-defined]
    page.wait_for_url(f"**/objects/{sample.IND_IP}/")  # type: ignore[attr-defined]
    related = page.locator("#related").inner_text()  # type: ignore[attr-defined]
    assert sample.IP_VALUE in related
    shot(page, "object-indicator")


def test_lookup(admin: object) -> None:
    page = admin
    page.goto("/ui/lookup/")  # type: ignore[attr-defined]
    page.fill("textarea[name=values]", "198.51.100[.]23\nhxxp://border-relay[.]example/gate\n"  # type: ignore[attr-defined]
              f"{sample.HASH_VALUE}\n203.0.113.77\nnot-a-value")
    page.click("button:has-text('Look up')")  # type: ignore[attr-defined]
    known = page.locator("table.lookup-results tr.known")  # type: ignore[attr-defined]
    assert known.count() == 2
    assert page.locator("table.lookup-results tr.unknown").count() == 3  # type: ignore[attr-defined]
    assert "198.51.100.23" in known.first.inner_text()
    shot(page, "lookup")


def test_import_a_file(admin: object, site: Site) -> None:
    page = admin
    page.goto("/ui/import/")  # type: ignore[attr-defined]
    page.select_option("select[name=collection]", "inbox")  # type: ignore[attr-defined]
    page.set_input_files("input[name=file]", str(site.bundle))  # type: ignore[attr-defined]
    page.click("form.import button")  # type: ignore[attr-defined]
    summary = page.locator("#import-result [data-summary]")  # type: ignore[attr-defined]
    summary.wait_for()
    assert "13 stored" in summary.inner_text()
    assert page.locator("#import-result table.results tbody tr").count() == 13  # type: ignore[attr-defined]
    assert page.locator("form.import progress").get_attribute("value") == "100"  # type: ignore[attr-defined]
    shot(page, "import")


def test_create_and_revoke_an_agreement(admin: object) -> None:
    page = admin
    page.goto("/ui/partners/")  # type: ignore[attr-defined]
    _open(page, "Add a partner")
    page.fill("input[name=name]", "dushanbe")  # type: ignore[attr-defined]
    page.fill("input[name=org_identity]", "identity--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")  # type: ignore[attr-defined]
    page.click("button:has-text('Add partner')")  # type: ignore[attr-defined]
    assert page.locator("#new-token").inner_text().startswith("lsn_")  # type: ignore[attr-defined]
    _open(page, "Add an agreement")
    page.select_option("select[name=partner]", "kabul")  # type: ignore[attr-defined]
    page.select_option("select[name=collection]", ["border"])  # type: ignore[attr-defined]
    page.select_option("select[name=direction]", "pull")  # type: ignore[attr-defined]
    page.select_option("select[name=max_tlp]", "TLP:AMBER")  # type: ignore[attr-defined]
    page.click("button:has-text('Add agreement')")  # type: ignore[attr-defined]
    assert "added" in page.locator(".notice").inner_text()  # type: ignore[attr-defined]
    row = page.locator("table.agreements tbody tr", has_text="kabul")  # type: ignore[attr-defined]
    assert "active" in row.inner_text()
    shot(page, "partners")
    page.once("dialog", lambda d: d.accept())  # type: ignore[attr-defined]
    row.locator("button:has-text('Revoke')").click()
    assert "revoked" in page.locator(".notice").inner_text()  # type: ignore[attr-defined]
    assert "revoked" in page.locator("table.agreements tbody tr", has_text="kabul").inner_text()  # type: ignore[attr-defined]
    # the object page now explains, per partner, why it is withheld
    page.goto(f"/ui/collections/border/objects/{sample.ACTOR}/#release")  # type: ignore[attr-defined]
    assert "WITHHELD" in page.locator("#release").inner_text()  # type: ignore[attr-defined]


def test_verify_the_audit_log(admin: object, tmp_path: Path) -> None:
    page = admin
    page.goto("/ui/audit/?action=agreement")  # type: ignore[attr-defined]
    page.goto("/ui/audit/")  # type: ignore[attr-defined]
    actions = page.locator("table.audit tbody").inner_text()  # type: ignore[attr-defined]
    assert "agreement.revoke" in actions and "web.sign_in" in actions
    shot(page, "audit")
    page.click("text=Verify the chain")  # type: ignore[attr-defined]
    verdict = page.locator(".verdict-box")  # type: ignore[attr-defined]
    assert verdict.get_attribute("data-verdict") == "ok"
    assert "Intact" in verdict.inner_text()
    with page.expect_download() as info:  # type: ignore[attr-defined]
        page.goto("/ui/audit/")  # type: ignore[attr-defined]
        page.click("text=Download a signed checkpoint")  # type: ignore[attr-defined]
    path = tmp_path / "checkpoint.json"
    info.value.save_as(str(path))
    doc = json.loads(path.read_text())
    assert doc["signature"] and doc["seq"] > 0
    page.goto("/ui/audit/verify")  # type: ignore[attr-defined]
    page.set_input_files("input[name=checkpoint]", str(path))  # type: ignore[attr-defined]
    page.click("button:has-text('Verify again')")  # type: ignore[attr-defined]
    assert "matches the checkpoint" in page.locator(".verdict-box").inner_text()  # type: ignore[attr-defined]
    shot(page, "audit-verify")


def test_a_form_posted_without_its_csrf_token_is_refused(admin: object) -> None:
    request = admin.context.request  # type: ignore[attr-defined]
    form = {"partner": "kabul", "collection": "border", "direction": "pull",
            "max_tlp": "TLP:GREEN"}
    for data in (form, {**form, "csrf_token": "forged"}):
        resp = request.post("/ui/agreements/", form=data)
        assert resp.status == 403 and "security token" in resp.text()
    page = admin
    page.goto("/ui/partners/")  # type: ignore[attr-defined]
    assert page.locator("table.agreements tbody tr.s-active").count() == 0  # type: ignore[attr-defined]


def test_a_reader_cannot_reach_admin_pages(browser: object, site: Site) -> None:
    ctx = _context(browser, site)
    page = ctx.new_page()  # type: ignore[attr-defined]
    _sign_in(page, "rita", site.reader_token)
    page.wait_for_url("**/ui/")
    nav = page.locator("nav[aria-label=Main]").inner_text()
    assert "Partners" not in nav and "Audit" not in nav
    assert page.locator("text=Recent audit events").count() == 0
    for url in ("/ui/partners/", "/ui/audit/", "/ui/audit/verify"):
        resp = page.goto(url)
        assert resp.status == 403 and "for node administrators" in page.locator(".error").inner_text()
    page.goto(f"/ui/collections/border/objects/{sample.ACTOR}/")
    assert page.locator("#release").count() == 0
    shot(page, "reader-forbidden")
    ctx.close()  # type: ignore[attr-defined]


def test_a_partner_token_cannot_sign_in(browser: object, site: Site) -> None:
    ctx = _context(browser, site)
    page = ctx.new_page()  # type: ignore[attr-defined]
    _sign_in(page, "kabul", site.partner_token)
    assert "partner" in page.locator(".error").inner_text().lower()
    assert "/ui/login" in page.url
    page.goto("/ui/")
    assert "/ui/login" in page.url
    ctx.close()  # type: ignore[attr-defined]
