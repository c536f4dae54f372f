"""index.html: the bundle summarised for a lawyer, readable offline and printable.

Pure: written as a stream of text pieces (a big case's page is large; it never sits whole in
memory). Self-contained: inline style, previews as data: URIs, and a Content-Security-Policy
that forbids loading anything at all, so opening it reaches no network. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from html import escape
from typing import Any

from app.bundles.snapshot import Snapshot, WitnessEntry

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111;max-width:80em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #999;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #bbb;padding:.3em .4em;text-align:left;vertical-align:top}
th{background:#eee}.hash{font-family:monospace;font-size:11px;word-break:break-all}
.withdrawn{background:#fbeaea}.note{color:#555}img{max-width:160px;max-height:160px}
pre{white-space:pre-wrap;font:inherit}tr{page-break-inside:avoid}
@media print{body{margin:0}a{color:inherit;text-decoration:none}}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(value: object) -> str:
    return "" if value is None else escape(str(value))


def render(
    snapshot: Snapshot,
    *,
    exhibits: list[dict[str, Any]],
    previews: Mapping[str, str],
    testimonies: list[dict[str, Any]],
    visits: list[dict[str, Any]],
    timeline: Iterable[dict[str, Any]],
    key_id: str,
    previews_skipped: int = 0,
) -> Iterator[str]:
    case = snapshot.case
    yield (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{_e(case['title'])} — case bundle</title><style>{_STYLE}</style></head><body>"
    )
    yield from _header(snapshot, key_id)
    yield from _case_facts(case)
    yield from _evidence(exhibits, previews, snapshot.include_withdrawn, previews_skipped)
    yield from _witnesses(snapshot.witnesses)
    yield from _testimonies(testimonies)
    yield from _visits(visits)
    yield from _timeline(timeline, snapshot.staff)
    yield from _how_to_verify(key_id)
    yield "</body></html>\n"


def _header(snapshot: Snapshot, key_id: str) -> Iterator[str]:
    requester = snapshot.requester
    role = requester.case_role or "admin (not a member)"
    yield f"<h1>{_e(snapshot.case['title'])}</h1>"
    yield (
        f"<p>Case bundle <span class=hash>{_e(snapshot.bundle_id)}</span>, generated "
        f"{_e(snapshot.generated_at.isoformat())} for {_e(requester.name)} ({_e(role)}). "
        f"The file list, hashes and this page are bound by <code>manifest.json</code>, signed "
        f"with key <code>{_e(key_id)}</code>; the case's audit log runs to event "
        f"{snapshot.audit.length} (head <span class=hash>{_e(snapshot.audit.head_hash)}</span>)."
        "</p>"
    )
    shown = [w.pseudonym for w in snapshot.witnesses if w.identity]
    yield (
        "<p class=note>Redaction: witnesses appear by pseudonym unless the requester may "
        "identify them and they consented to sharing their identity with courts. "
        f"Identified here: {_e(', '.join(shown) or 'none')}.</p>"
    )


def _case_facts(case: dict[str, Any]) -> Iterator[str]:
    location = case.get("location") or {}
    casualties = case.get("casualties") or {}
    place = ", ".join(
        str(location[k]) for k in ("name", "admin_area", "country") if location.get(k)
    )
    if location.get("lat") is not None:
        place += f" ({location['lat']}, {location['lon']})"
    rows = [
        ("Occurred", case.get("occurred_at")),
        ("Location", place),
        ("Weapon / munition", case.get("weapon")),
        ("Alleged responsible party", case.get("responsible_party")),
        ("Status", case.get("status")),
        ("Tags", ", ".join(case.get("tags") or [])),
        (
            "Civilian casualties",
            f"killed {_n(casualties.get('killed'))} "
            f"(of them children {_n(casualties.get('children_killed'))}), "
            f"injured {_n(casualties.get('injured'))} "
            f"(of them children {_n(casualties.get('children_injured'))})",
        ),
    ]
    yield "<h2>The case</h2><table>"
    for label, value in rows:
        yield f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>"
    yield "</table>"
    if case.get("summary"):
        yield f"<pre>{_e(case['summary'])}</pre>"


def _n(value: object) -> str:
    return "unknown" if value is None else str(value)


def _evidence(
    exhibits: list[dict[str, Any]],
    previews: Mapping[str, str],
    include_withdrawn: bool,
    previews_skipped: int,
) -> Iterator[str]:
    yield f"<h2>Evidence ({len(exhibits)} items, by exhibit number)</h2>"
    if not include_withdrawn:
        yield "<p class=note>Withdrawn items are listed; their files are not in this bundle.</p>"
    if previews_skipped:
        yield (
            f"<p class=note>Previews skipped for {previews_skipped} image(s): the export's "
            "budget for previews (time, count or bytes) ran out. Their originals are included "
            "as usual.</p>"
        )
    yield (
        "<table><tr><th>Exhibit</th><th>Preview</th><th>Item</th><th>File and SHA-256</th>"
        "<th>Captured</th><th>Provenance</th></tr>"
    )
    for row in exhibits:
        yield _exhibit_row(row, previews.get(row["exhibit_number"]))
    yield "</table>"


def _exhibit_row(row: dict[str, Any], preview: str | None) -> str:
    number = row["exhibit_number"]
    image = f'<img src="{preview}" alt="{_e(number)}">' if preview else ""
    exif = row.get("exif") or {}
    gps = row.get("gps")
    gps_text = f"{gps.get('lat')}, {gps.get('lon')}" if gps else "-"
    device = " ".join(str(exif[k]) for k in ("make", "model") if exif.get(k)) or "-"
    withdrawn = row.get("withdrawn")
    provenance = row["provenance"]
    path = row["path"]
    file_cell = _file_cell(path, row["media_type"])
    status = (
        f"<br><strong>Withdrawn</strong> {_e(withdrawn['at'])}: {_e(withdrawn['reason'])}"
        if withdrawn
        else ""
    )
    uploader = row["uploaded_by"]
    collector = provenance.get("collected_by") or provenance.get("captured_by") or "-"
    source = provenance.get("source_url") or provenance.get("source") or "-"
    return (
        f"<tr{' class=withdrawn' if withdrawn else ''}><td>{_e(number)}</td><td>{image}</td>"
        f"<td><strong>{_e(row['title'] or row['original_filename'])}</strong><br>"
        f"{_e(row['kind'])}, {_e(row['media_type'])}<br>{_e(row['description'])}{status}</td>"
        f"<td>{file_cell}<br>{row['size']:,} bytes<br>"
        f"<span class=hash>{_e(row['sha256'])}</span></td>"
        f"<td>entered: {_e(row['captured_at'] or '-')}<br>"
        f"EXIF: {_e(exif.get('captured_at') or '-')}<br>GPS: {_e(gps_text)}<br>"
        f"device: {_e(device)}</td>"
        f"<td>collected by: {_e(collector)}<br>source: {_e(source)}<br>"
        f"uploaded {_e(row['uploaded_at'])} by {_e(uploader['name'] or uploader['user_id'])}"
        "</td></tr>"
    )


# Originals a browser only shows, whatever is inside: linked. Anything else (HTML, SVG, XML, PDF
# with scripts, unknown types) would run from the unpacked folder when its link is clicked,
# so it is named, not linked. A browser opening a file goes by its extension, the server by
# the sniffed type: both must be passive.
_PASSIVE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "image/heic",
        "image/heif",
        "text/plain",
        "text/csv",
    }
)
_PASSIVE_TYPE_FAMILIES = ("audio/", "video/")
_PASSIVE_EXTENSIONS = frozenset(
    "jpg jpeg png gif webp tif tiff bmp heic heif txt csv log "
    "mp3 wav ogg oga opus m4a aac flac amr mp4 m4v mov webm ogv mkv avi 3gp".split()
)


def _file_cell(path: str | None, media_type: str | None) -> str:
    if not path:
        return "<em>not included</em>"
    if not is_passive(path, media_type):
        return f"{_e(path)} <em>(not linked: open it with care, outside the browser)</em>"
    return f'<a href="{_e(path)}">{_e(path)}</a>'


def is_passive(path: str, media_type: str | None) -> bool:
    """Whether a browser opening this original only shows it (never runs anything in it)."""
    kind = (media_type or "").split(";", 1)[0].strip().lower()
    extension = path.rpartition("/")[2].rpartition(".")[2].lower() if "." in path else ""
    passive_type = kind in _PASSIVE_TYPES or kind.startswith(_PASSIVE_TYPE_FAMILIES)
    return passive_type and extension in _PASSIVE_EXTENSIONS


def _witnesses(witnesses: list[WitnessEntry]) -> Iterator[str]:
    yield f"<h2>Witnesses ({len(witnesses)})</h2><table>"
    yield "<tr><th>Pseudonym</th><th>Identity</th><th>Consent</th><th>Risk</th></tr>"
    for witness in witnesses:
        if witness.identity:
            who = _e(witness.identity.get("full_name"))
            if witness.identity.get("contact"):
                who += f"<br>contact: {_e(witness.identity['contact'])}"
        else:
            who = f"<em>withheld: {_e(witness.withheld_because)}</em>"
        consent = ", ".join(k.replace("_", " ") for k, v in witness.consent.items() if v is True)
        yield (
            f"<tr><td>{_e(witness.pseudonym)}</td><td>{who}</td><td>{_e(consent or 'none')}</td>"
            f"<td>{_e(witness.risk_level)}</td></tr>"
        )
    yield "</table>"


def _testimonies(testimonies: list[dict[str, Any]]) -> Iterator[str]:
    yield f"<h2>Testimonies ({len(testimonies)})</h2>"
    for entry in testimonies:
        document, path = entry["document"], entry["path"]
        witness = document["witness"]
        name = (witness.get("identity") or {}).get("full_name")
        who = f"{name} ({witness['pseudonym']})" if name else witness["pseudonym"]
        facts = [document["place"], f"language {document['language']}"]
        yield (
            f"<h3>{_e(who)}, recorded {_e(document['recorded_at'])}</h3>"
            f"<p class=note>{_notes(facts, path)}</p><pre>{_e(document['statement'])}</pre>"
        )
        if document.get("translation"):
            yield (
                f"<p class=note>Translation ({_e(document['translation_language'])}):</p>"
                f"<pre>{_e(document['translation'])}</pre>"
            )


def _visits(visits: list[dict[str, Any]]) -> Iterator[str]:
    yield f"<h2>Site visits ({len(visits)})</h2>"
    for entry in visits:
        document, path = entry["document"], entry["path"]
        location = document.get("location") or {}
        yield (
            f"<h3>{_e(document['visited_at'])} — {_e(location.get('name') or 'location not given')}"
            f"</h3><p class=note>{_notes([document['purpose']], path)}</p>"
            f"<pre>{_e(document['observations'])}</pre>"
        )


def _notes(facts: list[str | None], path: str) -> str:
    link = f'<a href="{_e(path)}">{_e(path)}</a>'
    return " · ".join([*(_e(fact) for fact in facts if fact), link])


def _timeline(timeline: Iterable[dict[str, Any]], staff: Mapping[str, str | None]) -> Iterator[str]:
    yield (
        "<h2>Custody timeline (the case's audit log)</h2><table><tr><th>#</th><th>When (UTC)"
        "</th><th>What</th><th>Who</th><th>About</th><th>Event hash</th></tr>"
    )
    for event in timeline:
        actor = event.get("actor_id")
        who = (staff.get(actor) or actor) if actor else "system"
        yield (
            f"<tr><td>{event['seq']}</td><td>{_e(event['at'])}</td><td>{_e(event['action'])}</td>"
            f"<td>{_e(who)}</td><td>{_e(event['resource'])}</td>"
            f"<td class=hash>{_e(event['hash'])}</td></tr>"
        )
    yield "</table>"


def _how_to_verify(key_id: str) -> Iterator[str]:
    yield (
        "<h2>How to verify this bundle</h2><ol>"
        "<li>Every file's SHA-256: <code>sha256sum -c SHA256SUMS</code> in the unpacked folder."
        "</li><li>The signature over the manifest (which lists every file's SHA-256): "
        "<code>openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in manifest.json "
        "-sigfile manifest.json.sig</code> prints <em>Signature Verified Successfully</em>."
        f"</li><li>That the key is the organisation's: its id <code>{_e(key_id)}</code> is "
        "published by the server at <code>GET /api/v1/signing-keys</code>; compare the key."
        "</li><li>Everything at once, including the audit log's hash chain and its signed "
        "checkpoint: <code>casefile verify-bundle BUNDLE.zip --public-key KEY.pem</code>.</li>"
        "</ol><p class=note>The format is described in docs/bundle-format.md of Casefile.</p>"
    )
