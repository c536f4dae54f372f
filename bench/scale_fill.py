"""Filling a scratch PostgreSQL database for bench.scale, in SQL (INSERT … SELECT over
generate_series): 1,000 investigators plus one member of every tenth case, 100,000 cases with
tags, a witness, two testimonies and a site visit each, 1,000,000 evidence items and 5,000,000
audit events in one chain per case. Texts name no witness, so each is shown as written (its
`search_shown` the written fields, its rules current: no start-up backfill). Rows satisfy the
schema's constraints; audit hashes are synthetic (md5-based, 64 hex digits), so the chains do
not verify and are not meant to.
"""

from __future__ import annotations

import re
import time
from typing import TextIO

from sqlalchemy import Connection, text

USERS = 1000
# Per case: lead + two more members; the heavy user is also in every tenth case.
STEPS: list[tuple[str, str]] = [
    (
        "users",
        """
        CREATE TABLE scale_users AS
            SELECT n, gen_random_uuid() AS id FROM generate_series(0, :users - 1) n;
        INSERT INTO users (id, name, role, active, created_at, updated_at, version)
            SELECT id, 'scale-' || lpad(n::text, 4, '0'), 'investigator', true, now(), now(), 1
            FROM scale_users;
        INSERT INTO users (id, name, role, active, created_at, updated_at, version)
            VALUES (gen_random_uuid(), 'scale-heavy', 'investigator', true, now(), now(), 1);
        """,
    ),
    (
        "cases",
        """
        CREATE TABLE scale_cases AS
            SELECT n, gen_random_uuid() AS id FROM generate_series(0, :cases - 1) n;
        CREATE UNIQUE INDEX ON scale_cases (n);
        INSERT INTO cases (id, title, summary, status, occurred_at, location_name,
                location_country, location_admin_area, latitude, longitude, weapon,
                responsible_party, killed, injured, children_killed, children_injured,
                created_by_id, created_at, updated_at, version, search_shown, protected_with)
        SELECT c.id,
            (ARRAY['Missile strike on', 'Shelling of', 'Air strike on', 'Cluster munitions in',
                   'Drone strike on'])[1 + c.n % 5] || ' '
              || (ARRAY['Stepanakert', 'Martuni', 'Ganja', 'Barda', 'Shushi', 'Hadrut',
                        'Tartar', 'Askeran', 'Fizuli', 'Terter', 'Mardakert'])[1 + c.n % 11]
              || ' #' || c.n,
            'Strike number ' || c.n || ' hit a ' || (ARRAY['school', 'market', 'hospital',
              'shelter', 'bridge', 'residential block', 'bakery'])[1 + c.n % 7]
              || '; witnesses describe the ' || md5(c.n::text) || ' munition remnants.',
            (ARRAY['open', 'open', 'under_review', 'referred', 'closed'])[1 + c.n % 5],
            timestamptz '2014-01-01' + (c.n * interval '1 hour') * 1.05,
            'Place ' || (c.n % 5000), 'AZ', 'Region ' || (c.n % 40),
            -- Most cases in the region of the conflict, one in ten spread worldwide.
            CASE WHEN c.n % 10 = 0 THEN -80 + (c.n::bigint * 7919 % 16000) / 100.0
                 ELSE 38.5 + (c.n::bigint * 7919 % 250) / 100.0 END,
            CASE WHEN c.n % 10 = 0 THEN -170 + (c.n::bigint * 104729 % 34000) / 100.0
                 ELSE 45.0 + (c.n::bigint * 104729 % 350) / 100.0 END,
            (ARRAY['Smerch MLRS', 'BM-21 Grad', 'cluster munition', 'loitering munition'])
              [1 + c.n % 4],
            'Party ' || (c.n % 3), c.n % 7, c.n % 23,
            least(c.n % 2, c.n % 7), least(c.n % 5, c.n % 23),
            u.id,
            timestamptz '2023-01-01' + c.n * interval '5 minutes',
            timestamptz '2023-01-01' + c.n * interval '5 minutes', 1, NULL, 'm1'
        FROM scale_cases c JOIN scale_users u ON u.n = c.n % :users;
        -- Nothing here names a witness: each text is shown as written (app/protection).
        UPDATE cases SET search_shown = concat_ws(chr(31), title, coalesce(summary, ''),
            coalesce(location_name, ''), coalesce(location_admin_area, ''),
            coalesce(location_country, ''), coalesce(weapon, ''),
            coalesce(responsible_party, ''));
        """,
    ),
    (
        "members and tags",
        """
        INSERT INTO case_members (case_id, user_id, role, can_identify_witnesses, added_by_id,
                created_at, updated_at)
        SELECT c.id, u.id, CASE k WHEN 0 THEN 'lead' WHEN 1 THEN 'investigator' ELSE 'viewer' END,
               k = 0, NULL, now(), now()
        FROM scale_cases c, generate_series(0, 2) k
        JOIN scale_users u ON true
        WHERE u.n = (c.n + k * 337) % :users;
        INSERT INTO case_members (case_id, user_id, role, can_identify_witnesses, added_by_id,
                created_at, updated_at)
        SELECT c.id, (SELECT id FROM users WHERE name = 'scale-heavy'), 'viewer', false, NULL,
               now(), now()
        FROM scale_cases c WHERE c.n % 10 = 3;
        INSERT INTO case_tags (case_id, tag, shown)
        SELECT c.id, (ARRAY['missile', 'cluster-munition', 'school', 'hospital', 'market',
                'shelter', 'residential', 'bridge', 'power-plant', 'water', 'church', 'mosque',
                'farm', 'road', 'convoy', 'ambulance', 'journalists', 'night', 'double-tap',
                'incendiary'])[1 + (c.n + k * (1 + c.n / 20 % 19)) % 20], NULL
        FROM scale_cases c, generate_series(0, 1) k;
        UPDATE case_tags SET shown = tag;
        """,
    ),
    (
        "witnesses, testimonies, site visits",
        """
        INSERT INTO witnesses (id, pseudonym, identity_ciphertext, identity_key_id,
                consent_named_publicly, consent_share_identity_with_courts,
                consent_use_testimony_in_reports, risk_level, created_by_id, created_at,
                updated_at, version)
        SELECT c.id, 'S-' || c.n, '\\x00'::bytea, 'scale', false, false, true, 'medium',
               (SELECT id FROM scale_users WHERE n = 0), now(), now(), 1
        FROM scale_cases c;
        INSERT INTO witness_cases (witness_id, case_id, linked_by_id, linked_at)
        SELECT c.id, c.id, (SELECT id FROM scale_users WHERE n = 0), now() FROM scale_cases c;
        INSERT INTO testimonies (id, case_id, witness_id, recorded_at, place, language,
                statement, created_by_id, created_at, updated_at, version, protected_with)
        SELECT gen_random_uuid(), c.id, c.id, timestamptz '2021-01-01' + c.n * interval '1 min',
               'Place ' || (c.n % 5000), 'en',
               'At dawn we heard the ' || (ARRAY['whistle', 'drone', 'siren', 'explosion'])
                 [1 + (c.n + k) % 4] || ' near the ' || (ARRAY['school', 'market', 'hospital',
                 'shelter', 'bakery'])[1 + (c.n * 3 + k) % 5] || '. Witness account '
                 || md5((c.n * 2 + k)::text) || '.',
               (SELECT id FROM scale_users WHERE n = 0),
               timestamptz '2023-06-01' + (c.n * 2 + k) * interval '1 second',
               timestamptz '2023-06-01' + (c.n * 2 + k) * interval '1 second', 1, 'm1'
        FROM scale_cases c, generate_series(0, 1) k;
        UPDATE testimonies SET search_shown = statement || ' ';
        INSERT INTO site_visits (id, visited_at, location_name, observations, created_by_id,
                created_at, updated_at, version, protected_with)
        SELECT c.id, timestamptz '2021-02-01' + c.n * interval '1 min', 'Place ' || (c.n % 5000),
               'Crater ' || (c.n % 9 + 1) || ' m wide; remnants ' || md5(c.n::text || 'v'),
               (SELECT id FROM scale_users WHERE n = 0), now(), now(), 1, 'm1'
        FROM scale_cases c;
        UPDATE site_visits SET search_shown = observations || '  ' || location_name;
        INSERT INTO site_visit_cases (site_visit_id, case_id, linked_by_id, linked_at)
        SELECT c.id, c.id, (SELECT id FROM scale_users WHERE n = 0), now() FROM scale_cases c;
        """,
    ),
    (
        "evidence",
        """
        INSERT INTO evidence_items (id, case_id, exhibit_seq, exhibit_number, object_key,
                sha256, crc32, size, media_type, original_filename, kind, title,
                uploaded_by_id, uploaded_at, updated_at, version, protected_with)
        SELECT gen_random_uuid(), c.id, k, 'SC' || c.n || '-' || lpad(k::text, 4, '0'),
               'scale/' || c.n || '/' || k, md5(c.n || ':' || k) || md5(k || ':' || c.n),
               0, 2097152 + (c.n * 31 + k) % 3145728, 'image/jpeg',
               'photo-' || k || '.jpg', 'photo', 'Photo ' || k, u.id,
               timestamptz '2023-01-01' + c.n * interval '5 minutes' + k * interval '1 second',
               now(), 1, 'm1'
        FROM scale_cases c JOIN scale_users u ON u.n = c.n % :users,
             generate_series(1, :evidence_per_case) k;
        """,
    ),
    (
        "audit events",
        """
        INSERT INTO audit_events (chain_id, seq, prev_hash, hash, resource_type, resource_id,
                body)
        SELECT 'case:' || c.id, s,
               CASE WHEN s = 1 THEN repeat('0', 64)
                    ELSE md5(c.n || '/' || (s - 1)) || md5((s - 1) || '/' || c.n) END,
               md5(c.n || '/' || s) || md5(s || '/' || c.n),
               CASE WHEN s = 1 THEN 'case' WHEN s <= 1 + :evidence_per_case THEN 'evidence'
                    ELSE 'testimony' END,
               CASE WHEN s = 1 THEN c.id::text
                    WHEN s <= 1 + :evidence_per_case THEN coalesce(e.id::text, 'missing')
                    ELSE md5(c.n || 't' || s) END,
               json_build_object(
                 'at', to_char((timestamptz '2023-01-01' + c.n * interval '5 minutes'
                                + s * interval '1 second') AT TIME ZONE 'UTC',
                               :at_format),
                 'actor_id', null, 'action', CASE WHEN s = 1 THEN 'case.created'
                   WHEN s <= 1 + :evidence_per_case THEN 'evidence.added'
                   ELSE 'testimony.read' END,
                 'case_id', c.id, 'request_id', null, 'client_address', null,
                 'payload', json_build_object('seq', s))::text
        FROM scale_cases c CROSS JOIN generate_series(1, :events_per_case) s
        LEFT JOIN evidence_items e
          ON e.case_id = c.id AND e.exhibit_seq = s - 1 AND s BETWEEN 2 AND 1 + :evidence_per_case;
        INSERT INTO audit_chains (chain_id, length, head_hash, updated_at, checkpoint_length)
        SELECT 'case:' || c.id, :events_per_case,
               md5(c.n || '/' || :events_per_case) || md5(:events_per_case || '/' || c.n),
               now(), 0
        FROM scale_cases c;
        """,
    ),
]


def fill(connection: Connection, *, cases: int, evidence: int, events: int, log: TextIO) -> None:
    """Run every step in its own transaction, printing how long each took to `log`."""
    params: dict[str, int | str] = {
        "at_format": 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"',
        "users": USERS,
        "cases": cases,
        "evidence_per_case": evidence // cases,
        "events_per_case": events // cases,
    }
    for name, sql in STEPS:
        started = time.monotonic()
        with connection.begin():
            for statement in re.split(r";\s*\n", sql):  # not at "; " inside strings
                if statement.strip():
                    connection.execute(text(statement), _used(statement, params))
        print(f"  {name}: {time.monotonic() - started:.0f} s", file=log)
    started = time.monotonic()
    with connection.begin():
        connection.execute(text("DROP TABLE scale_users; DROP TABLE scale_cases"))
    # VACUUM too: the shown texts were written by UPDATEs, whose dead rows a plan would read.
    connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print(f"  VACUUM ANALYZE: {time.monotonic() - started:.0f} s", file=log)


def _used(statement: str, params: dict[str, int | str]) -> dict[str, int | str]:
    return {key: value for key, value in params.items() if f":{key}" in statement}
